// mqttpki sign: issue a server or client certificate from a CSR, record it in the CA index.

#include "command.hpp"
#include "pki_common.hpp"

#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/san.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/ca_signer.hpp>
#include <mqttpki/store/files.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <ostream>

namespace mqttpki::cli {
namespace {

// The SAN a server certificate's CN names, when it is a host name (a dotted name, or localhost) or an IP
// address: clients check only the SAN, so a CN missing from it is a trap. A single-label CN ("dev1") may be a
// label for people, not a name clients dial, so it is not added.
std::optional<pki::GeneralName> san_from_cn(const std::string& cn) {
  for (const char* type : {"IP:", "DNS:"}) {
    try {
      auto san = pki::parse_san(type + cn);
      if (san.type == pki::GeneralName::Type::dns && cn.find('.') == std::string::npos && san.value != "localhost")
        return std::nullopt;
      return san;
    } catch (const Error&) {
      // not this type
    }
  }
  return std::nullopt;
}

// Server profile: the CN joins the SAN when it is a host name or IP and missing (as peers expect), else a
// warning when the CN is not among the SANs.
void cn_into_san(Context& ctx, pki::IssueRequest& request, const std::string& cn) {
  if (request.profile != pki::Profile::server) return;
  const auto san = san_from_cn(cn);
  if (san && std::find(request.sans.begin(), request.sans.end(), *san) == request.sans.end()) {
    request.sans.push_back(*san);
    ctx.err << fmt::format("mqttpki sign: added {} to the SAN (a server certificate's CN must be one of its SANs)\n",
                           san->to_string());
  } else if (!san && !request.sans.empty()) {
    pki_common::warn(ctx, "sign",
                     fmt::format("the CN '{}' is not a host name or IP address, so it is not in the SAN; clients "
                                 "check the SAN only",
                                 cn));
  }
}

class SignCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("csr", csr_, "The certificate signing request (PEM or DER)")->required();
    app.add_option("--profile", profile_, "server (TLS server, needs a SAN) or client (CN = MQTT user name)")
        ->required()
        ->check(CLI::IsMember({"server", "client"}));
    app.add_option("--days", days_,
                   "Validity in days; capped at the CA's expiry with a warning")
        ->capture_default_str()
        ->check(CLI::Range(1, 36500));
    app.add_option("--out", out_, "Also write the certificate to FILE");
    app.add_option("--name", name_, "Name in the CA folder: DIR/issued/NAME.crt (default: the CN)");
    app.add_option("--san", sans_,
                   "Add a subject alternative name to those the CSR requests, repeatable: DNS:host, IP:addr, "
                   "URI:..., email:...");
    app.add_flag("--force", force_,
                 "Replace a valid certificate of the same NAME (marked superseded) and overwrite --out");
    pki_common::add_passphrase_file_option(app, passphrase_file_, "of the CA key");
    add_dir_option(app, dir_);
    app.footer(
        "Checks the CSR's signature and key, issues with the profile's extensions, records the certificate in\n"
        "DIR/index.json and writes DIR/issued/NAME.crt. A client CN already held by another valid certificate\n"
        "with a different key is refused (Mosquitto's use_identity_as_username makes the CN the user name).\n"
        "Only the CSR's key, subject and SANs are used; other requested extensions are ignored with a warning.\n"
        "Examples:\n"
        "  mqttpki sign server_mqtt.csr --profile server --san DNS:mqtt.example.com --out server_mqtt.crt\n"
        "  mqttpki sign client_mqtt.csr --profile client --name pi1 --days 730 --out client1.crt");
  }

  int run(Context& ctx) override {
    namespace store = mqttpki::store;
    const auto folder = store::CaFolder::open(dir_);
    const auto& layout = folder.layout();
    const auto csr = pki_common::load_csr(csr_);
    store::with_file(csr_, [&] {
      csr.verify_signature();
      pki::check_key_policy(csr.public_key());
    });
    auto request = store::with_file(csr_, [&] { return pki::from_csr(csr); });
    for (auto& san : pki_common::parse_sans(sans_))
      if (std::find(request.sans.begin(), request.sans.end(), san) == request.sans.end())
        request.sans.push_back(std::move(san));
    request.profile = pki::parse_profile(profile_);
    request.days = days_;
    request.ca_label = layout.ca_cert.string();
    const auto cn = request.subject.common_name();
    if (!cn || cn->empty())
      throw Error(Errc::policy, fmt::format("{}: the CSR's subject has no CN; make a new CSR with --cn NAME", csr_));
    cn_into_san(ctx, request, *cn);
    if (request.profile == pki::Profile::server && request.sans.empty())
      throw Error(Errc::policy,
                  fmt::format("{}: a server certificate needs a subject alternative name (clients check the host "
                              "name against it); add --san DNS:{} (or IP:ADDRESS)",
                              csr_, *cn));
    const std::string name = name_.empty() ? *cn : name_;
    if (name_.empty() && !store::is_valid_name(name))
      throw Error(Errc::invalid_argument,
                  fmt::format("CN '{}' cannot be a file name in {}/issued; pass --name NAME", name, dir_));
    store::validate_name(name);
    if (!out_.empty()) pki_common::check_output_free(out_, force_);

    std::optional<store::Secret> passphrase;
    if (store::ca_key_encrypted(folder))
      passphrase = pki_common::passphrase_for_reading(passphrase_file_, "Passphrase for the CA key: ");
    const auto ca = store::load_signing_ca(folder, pki_common::view(passphrase));

    const std::string key_fp = store::public_key_fingerprint(request.public_key);
    std::optional<pki::IssueResult> result;
    {
      // Everything from reading the index to writing it happens under the folder lock, so parallel signs
      // serialise and never reuse a serial or lose an entry.
      auto lock = folder.lock();
      // An `init-ca --force` may have replaced the CA between loading it and taking the lock.
      if (!(store::load_ca_cert(folder) == ca.cert))
        throw Error(Errc::mismatch, fmt::format("{} was replaced while signing; run the command again",
                                                layout.ca_cert.string()));
      auto index = folder.load_index();
      const auto now = std::chrono::system_clock::now();
      request.now = now;

      std::vector<std::string> supersede;
      for (const auto* held : index.valid_by_name(name)) {
        if (held->is_current(now) && !force_)
          throw Error(Errc::already_exists,
                      fmt::format("{} exists and is valid (serial {}, until {}); use --force to replace it (the old "
                                  "one is marked superseded) or choose another --name",
                                  layout.issued_cert(name).string(), held->serial, store::format_time(held->not_after)));
        supersede.push_back(held->serial);
      }
      if (request.profile == pki::Profile::client) {
        for (const auto* held : index.valid_by_cn(*cn)) {
          const bool replaced = std::find(supersede.begin(), supersede.end(), held->serial) != supersede.end();
          if (held->is_current(now) && !replaced && held->public_key_sha256 != key_fp)
            throw Error(Errc::policy,
                        fmt::format("{}: CN '{}' is already the MQTT user name of valid certificate '{}' (serial {}) "
                                    "with a different key; revoke that one first or use another --cn",
                                    csr_, *cn, held->name, held->serial));
        }
      }
      std::string serial;
      do serial = pki::random_serial();
      while (index.has_serial(serial));
      request.serial = serial;

      result.emplace([&] {
        try {
          return pki::issue(ca.cert, ca.key, request);
        } catch (const Error& e) {
          // CA problems already name ca.crt; the rest concern the CSR.
          if (e.code() == Errc::expired || e.code() == Errc::mismatch ||
              std::string_view(e.what()).find(request.ca_label) != std::string_view::npos)
            throw;
          throw Error(e.code(), fmt::format("{}: {}", csr_, e.what()));
        }
      }());
      const auto& cert = result->certificate;
      store::IndexEntry entry;
      entry.serial = cert.serial_hex();
      entry.name = name;
      entry.cn = *cn;
      entry.subject = cert.subject().to_string();
      entry.profile = std::string(pki::to_string(request.profile));
      entry.not_before = cert.not_before();
      entry.not_after = cert.not_after();
      entry.issued_at = now;
      entry.sha256 = cert.fingerprint_sha256();
      entry.public_key_sha256 = key_fp;
      folder.record_issued(index, std::move(entry), cert.to_pem(), supersede);
      folder.compact(index);  // index.json whole again before the lock goes
    }
    const auto& cert = result->certificate;
    if (!out_.empty()) store::write_file_atomic(out_, cert.to_pem(), store::mode_public, force_);
    for (const auto& w : result->warnings) pki_common::warn(ctx, "sign", w);

    std::string sans;
    for (const auto& s : cert.sans()) sans += (sans.empty() ? "" : ", ") + s.to_string();
    const auto now = std::chrono::system_clock::now();
    ctx.out << fmt::format("Issued {} certificate '{}' (serial {})\n", profile_, name, cert.serial_hex());
    ctx.out << fmt::format("  subject      {}\n", cert.subject().to_string());
    if (!sans.empty()) ctx.out << fmt::format("  SANs         {}\n", sans);
    ctx.out << fmt::format("  valid until  {} ({} days)\n", pki::format_time(cert.not_after()),
                           pki::days_between(now, cert.not_after()));
    ctx.out << fmt::format("  written to   {}\n", layout.issued_cert(name).string());
    if (!out_.empty()) ctx.out << fmt::format("  copy         {}\n", out_);
    return 0;
  }

 private:
  std::string csr_;
  std::string profile_;
  int days_ = 365;
  std::string out_;
  std::string name_;
  std::vector<std::string> sans_;
  bool force_ = false;
  std::string passphrase_file_;
  std::string dir_;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(SignCommand, "sign", 40, "Issue a server or client certificate from a CSR")

}  // namespace mqttpki::cli
