// mqttpki inspect: what a certificate, CSR or key file holds (never a key's secret).

#include "command.hpp"
#include "pki_common.hpp"

#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/pki/types.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/index.hpp>
#include <mqttpki/store/renewal.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <ostream>

namespace mqttpki::cli {
namespace {

using nlohmann::ordered_json;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out.empty() ? "-" : out;
}

std::vector<std::string> san_strings(const std::vector<pki::GeneralName>& sans) {
  std::vector<std::string> out;
  for (const auto& s : sans) out.push_back(s.to_string());
  return out;
}

ordered_json certificate_json(const pki::Certificate& cert, pki::TimePoint now) {
  const auto i = cert.describe(now);
  ordered_json j;
  j["kind"] = "certificate";
  j["subject"] = i.subject;
  j["issuer"] = i.issuer;
  j["serial"] = i.serial;
  j["not_before"] = i.not_before_text;
  j["not_after"] = i.not_after_text;
  j["days_left"] = i.days_left;
  j["status"] = i.status;
  j["key_type"] = i.key_type;
  j["signature_algorithm"] = i.signature_algorithm;
  j["sans"] = i.sans;
  j["key_usage"] = i.key_usage;
  j["extended_key_usage"] = i.extended_key_usage;
  j["is_ca"] = i.is_ca;
  j["pathlen"] = (i.basic_constraints && i.basic_constraints->pathlen) ? ordered_json(*i.basic_constraints->pathlen)
                                                                         : ordered_json(nullptr);
  j["self_signed"] = i.self_signed;
  j["subject_key_id"] = i.subject_key_id;
  j["authority_key_id"] = i.authority_key_id;
  j["fingerprint_sha256"] = i.fingerprint_sha256;
  return j;
}

void certificate_text(std::ostream& out, const pki::Certificate& cert, pki::TimePoint now) {
  const auto i = cert.describe(now);
  out << fmt::format("Certificate\n");
  out << fmt::format("  subject       {}\n", i.subject);
  out << fmt::format("  issuer        {}{}\n", i.issuer, i.self_signed ? " (self-signed)" : "");
  out << fmt::format("  serial        {}\n", i.serial);
  out << fmt::format("  not before    {}\n", i.not_before_text);
  out << fmt::format("  not after     {} ({}, {} days left)\n", i.not_after_text, i.status, i.days_left);
  out << fmt::format("  key           {}\n", i.key_type);
  out << fmt::format("  signature     {}\n", i.signature_algorithm);
  out << fmt::format("  SANs          {}\n", join(i.sans));
  out << fmt::format("  key usage     {}\n", join(i.key_usage));
  out << fmt::format("  ext key usage {}\n", join(i.extended_key_usage));
  std::string ca = i.is_ca ? "yes" : "no";
  if (i.is_ca && i.basic_constraints && i.basic_constraints->pathlen)
    ca += fmt::format(" (pathlen {})", *i.basic_constraints->pathlen);
  out << fmt::format("  CA            {}\n", ca);
  out << fmt::format("  sha256        {}\n", i.fingerprint_sha256);
}

class InspectCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("file", file_, "Certificate, CSR, key or CRL (PEM or DER)")->required();
    app.add_flag("--json", json_, "Print JSON with stable keys");
    app.add_option("--passphrase-file", passphrase_file_,
                   "Passphrase of an encrypted key, to show its type (else $MQTTPKI_PASSPHRASE)")
        ->type_name("FILE");
    app.footer(
        "Certificates: subject, issuer, serial, validity with days left, SANs, key type, key usage, CA flag,\n"
        "SHA-256 fingerprint. CSRs: subject, requested SANs, key type, whether the signature verifies.\n"
        "Keys: type and public-key fingerprint only; the secret is never printed.\n"
        "CRLs: issuer, CRL number, this and next update (days left), revoked serials.\n"
        "Examples:\n"
        "  mqttpki inspect pki/issued/pi1.crt\n"
        "  mqttpki inspect server_mqtt.csr --json");
  }

  int run(Context& ctx) override {
    const std::string data = store::read_file(file_);
    const auto kind = pki::detect_kind(pki::as_bytes(data));
    const auto now = std::chrono::system_clock::now();
    ordered_json j;
    switch (kind) {
      case pki::ObjectKind::certificate:
        j = certificates(ctx.out, data, now);
        break;
      case pki::ObjectKind::certificate_request:
        j = request(ctx.out);
        break;
      case pki::ObjectKind::private_key:
      case pki::ObjectKind::encrypted_private_key:
        j = private_key(ctx, kind == pki::ObjectKind::encrypted_private_key);
        break;
      case pki::ObjectKind::crl:
        j = crl(ctx.out, data, now);
        break;
      case pki::ObjectKind::public_key:
        j = public_key(ctx.out, data);
        break;
      default:
        pki_common::throw_unrecognised(file_, data, "a certificate, CSR or private key");
    }
    if (json_) ctx.out << j.dump(2) << "\n";
    return 0;
  }

 private:
  // Each returns the JSON form and, without --json, prints the text form.
  ordered_json certificates(std::ostream& out, const std::string& data, pki::TimePoint now) const {
    const auto certs = store::with_file(file_, [&] { return pki::Certificate::load_chain(data); });
    if (!json_) {
      for (const auto& c : certs) certificate_text(out, c, now);
    }
    if (certs.size() == 1) return certificate_json(certs[0], now);
    ordered_json j;
    j["kind"] = "certificates";
    j["certificates"] = ordered_json::array();
    for (const auto& c : certs) j["certificates"].push_back(certificate_json(c, now));
    return j;
  }

  ordered_json request(std::ostream& out) const {
    const auto csr = pki_common::load_csr(file_);
    const auto key = csr.public_key();
    const bool sig = csr.signature_valid();
    ordered_json j;
    j["kind"] = "csr";
    j["subject"] = csr.subject().to_string();
    j["sans"] = san_strings(csr.sans());
    j["key_type"] = key.type_name();
    j["signature_valid"] = sig;
    j["requested_extensions"] = csr.requested_extensions();
    j["public_key_sha256"] = key.fingerprint_sha256();
    if (!json_) {
      out << "Certificate signing request\n";
      out << fmt::format("  subject       {}\n", j["subject"].get<std::string>());
      out << fmt::format("  SANs          {}\n", join(j["sans"].get<std::vector<std::string>>()));
      out << fmt::format("  key           {}\n", key.type_name());
      out << fmt::format("  signature     {}\n", sig ? "valid" : "INVALID (damaged or altered)");
      out << fmt::format("  pubkey sha256 {}\n", j["public_key_sha256"].get<std::string>());
    }
    return j;
  }

  ordered_json private_key(Context& ctx, bool encrypted) const {
    std::ostream& out = ctx.out;
    ordered_json j;
    j["kind"] = "private_key";
    j["encrypted"] = encrypted;
    std::optional<pki::PrivateKey> key;
    const char* env = std::getenv(store::passphrase_env);
    const bool have_passphrase = !passphrase_file_.empty() || (env != nullptr && *env != '\0');
    if (!encrypted || have_passphrase) key = pki_common::load_private_key(ctx, "inspect", file_, passphrase_file_);
    j["key_type"] = key ? ordered_json(key->type_name()) : ordered_json(nullptr);
    j["bits"] = key ? ordered_json(key->bits()) : ordered_json(nullptr);
    j["public_key_sha256"] = key ? ordered_json(key->public_key().fingerprint_sha256()) : ordered_json(nullptr);
    if (!json_) {
      out << "Private key\n";
      out << fmt::format("  type          {}\n",
                         key ? key->type_name() : "unknown (encrypted; give --passphrase-file to see it)");
      out << fmt::format("  encrypted     {}\n", encrypted ? "yes" : "no");
      if (key) out << fmt::format("  pubkey sha256 {}\n", j["public_key_sha256"].get<std::string>());
    }
    return j;
  }

  // nextUpdate matters most: once it passes, Mosquitto refuses every client.
  ordered_json crl(std::ostream& out, const std::string& data, pki::TimePoint now) const {
    const auto crl = store::with_file(file_, [&] { return store::read_crl_info(data); });
    ordered_json j;
    j["kind"] = "crl";
    j["issuer"] = crl.issuer;
    j["number"] = crl.number ? ordered_json(*crl.number) : ordered_json(nullptr);
    j["this_update"] = store::format_time(crl.this_update);
    j["next_update"] = crl.next_update ? ordered_json(store::format_time(*crl.next_update)) : ordered_json(nullptr);
    j["days_left"] = crl.next_update ? ordered_json(pki::days_between(now, *crl.next_update)) : ordered_json(nullptr);
    j["revoked"] = crl.revoked_serials;
    if (!json_) {
      out << "Certificate revocation list\n";
      out << fmt::format("  issuer        {}\n", crl.issuer);
      out << fmt::format("  number        {}\n", crl.number ? std::to_string(*crl.number) : "-");
      out << fmt::format("  this update   {}\n", store::format_time(crl.this_update));
      if (crl.next_update)
        out << fmt::format("  next update   {} ({})\n", store::format_time(*crl.next_update),
                           *crl.next_update <= now
                               ? std::string("PASSED: Mosquitto refuses every client; run `mqttpki crl`")
                               : fmt::format("{} days left", pki::days_between(now, *crl.next_update)));
      out << fmt::format("  revoked       {}\n", join(crl.revoked_serials));
    }
    return j;
  }

  ordered_json public_key(std::ostream& out, const std::string& data) const {
    const auto key = store::with_file(file_, [&] { return pki::PublicKey::load(data); });
    ordered_json j;
    j["kind"] = "public_key";
    j["key_type"] = key.type_name();
    j["bits"] = key.bits();
    j["public_key_sha256"] = key.fingerprint_sha256();
    if (!json_) {
      out << "Public key\n";
      out << fmt::format("  type          {}\n", key.type_name());
      out << fmt::format("  pubkey sha256 {}\n", j["public_key_sha256"].get<std::string>());
    }
    return j;
  }

  std::string file_;
  bool json_ = false;
  std::string passphrase_file_;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(InspectCommand, "inspect", 90, "Show what a certificate, CSR or key file holds")

}  // namespace mqttpki::cli
