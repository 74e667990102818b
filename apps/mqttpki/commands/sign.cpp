// mqttpki sign: issue a server or client certificate from a CSR, record it in the CA index.

#include "command.hpp"
#include "pki_common.hpp"

#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/san.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/issuance.hpp>

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
                   "URI:..., email:...; prefer DNS names: mbedTLS 2.28 (ESP32, many devices) does not match IP SANs");
    app.add_flag("--force", force_,
                 "Replace a valid certificate of the same NAME (marked superseded) and overwrite --out");
    pki_common::add_passphrase_file_option(app, passphrase_file_, "of the CA key");
    add_dir_option(app, dir_);
    app.footer(
        "Checks the CSR's signature and key, issues with the profile's extensions, records the certificate in\n"
        "DIR/ca.db and writes DIR/issued/NAME.crt. A client CN already held by another valid certificate\n"
        "with a different key is refused (Mosquitto's use_identity_as_username makes the CN the user name).\n"
        "Only the CSR's key, subject and SANs are used; other requested extensions are ignored with a warning.\n"
        "Examples:\n"
        "  mqttpki sign server_mqtt.csr --profile server --san DNS:mqtt.example.com --out server_mqtt.crt\n"
        "  mqttpki sign client_mqtt.csr --profile client --name pi1 --days 730 --out client1.crt");
  }

  int run(Context& ctx) override {
    const auto folder = store::CaFolder::open(dir_);
    store::IssueOrder order = read_request(ctx);
    const auto cn = order.request.subject.common_name().value_or("");
    order.name = name_.empty() ? cn : name_;
    if (name_.empty() && !store::is_valid_name(order.name))
      throw Error(Errc::invalid_argument,
                  fmt::format("CN '{}' cannot be a file name in {}/issued; pass --name NAME", order.name, dir_));
    store::validate_name(order.name);
    if (!out_.empty()) pki_common::check_output_free(out_, force_);

    store::PassphraseRequest passphrase;
    if (!passphrase_file_.empty()) passphrase.file = passphrase_file_;
    passphrase.prompt = "Passphrase for the CA key: ";
    const auto ca = store::load_ca(folder, passphrase);
    for (const auto& w : ca.warnings) pki_common::warn(ctx, "sign", w);
    const store::Issued issued = issue(folder, ca, std::move(order));
    for (const auto& w : issued.warnings) pki_common::warn(ctx, "sign", w);
    print(ctx, issued, folder.layout());
    return 0;
  }

 private:
  // The CSR, checked, as an order: its key, subject and SANs (plus --san), the profile and validity.
  store::IssueOrder read_request(Context& ctx) const {
    const auto csr = pki_common::load_csr(csr_);
    store::with_file(csr_, [&] {
      csr.verify_signature();
      pki::check_key_policy(csr.public_key());
    });
    store::IssueOrder order;
    order.source = csr_;
    auto& request = order.request;
    request = store::with_file(csr_, [&] { return pki::from_csr(csr); });
    for (auto& san : pki_common::parse_sans(sans_))
      if (std::find(request.sans.begin(), request.sans.end(), san) == request.sans.end())
        request.sans.push_back(std::move(san));
    request.profile = pki::parse_profile(profile_);
    request.days = days_;
    const auto cn = request.subject.common_name();
    if (!cn || cn->empty())
      throw Error(Errc::policy, fmt::format("{}: the CSR's subject has no CN; make a new CSR with --cn NAME", csr_));
    cn_into_san(ctx, request, *cn);
    if (request.profile == pki::Profile::server && request.sans.empty())
      throw Error(Errc::policy,
                  fmt::format("{}: a server certificate needs a subject alternative name (clients check the host "
                              "name against it); add --san DNS:{} (or IP:ADDRESS)",
                              csr_, *cn));
    return order;
  }

  // Under the folder lock, in one transaction: the name and CN checks, then the one issuance path.
  store::Issued issue(const store::CaFolder& folder, const store::CaMaterial& ca, store::IssueOrder order) const {
    const auto held = folder.lock();
    // An `init-ca --force` may have replaced the CA between loading it and taking the lock.
    if (!(store::load_ca_cert(folder) == ca.cert))
      throw Error(Errc::mismatch, fmt::format("{} was replaced while signing; run the command again",
                                              folder.layout().ca_cert.string()));
    auto index = folder.open_index(held);
    const auto now = std::chrono::system_clock::now();
    order.request.now = now;
    auto tx = index.begin();
    order.supersede = store::check_name_free(index, folder.layout(), order.name,
                                             order.request.subject.common_name().value_or(""),
                                             order.request.public_key.fingerprint_sha256(),
                                             order.request.profile, force_, now, csr_);
    store::Issued issued = store::issue_certificate(index, ca, std::move(order));
    // Every file is written before the commit and put in place after it, so a full disk fails with nothing
    // recorded, and a recorded certificate is never reported as a failure.
    std::optional<store::StagedFile> copy;
    if (!out_.empty()) copy.emplace(out_, issued.certificate.to_pem(), store::mode_public, force_);
    auto staged = folder.stage_certificate_files(index, held);
    tx.commit();
    folder.publish_certificate_files(index, staged);
    if (copy) copy->publish();
    return issued;
  }

  void print(Context& ctx, const store::Issued& issued, const store::CaLayout& layout) const {
    const auto& cert = issued.certificate;
    std::string sans;
    for (const auto& s : cert.sans()) sans += (sans.empty() ? "" : ", ") + s.to_string();
    const auto now = std::chrono::system_clock::now();
    ctx.out << fmt::format("Issued {} certificate '{}' (serial {})\n", profile_, issued.entry.name, cert.serial_hex());
    ctx.out << fmt::format("  subject      {}\n", cert.subject().to_string());
    if (!sans.empty()) ctx.out << fmt::format("  SANs         {}\n", sans);
    ctx.out << fmt::format("  valid until  {} ({} days)\n", pki::format_time(cert.not_after()),
                           pki::days_between(now, cert.not_after()));
    ctx.out << fmt::format("  written to   {}\n", layout.issued_cert(issued.entry.name).string());
    if (!out_.empty()) ctx.out << fmt::format("  copy         {}\n", out_);
  }

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
