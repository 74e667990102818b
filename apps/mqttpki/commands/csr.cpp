// mqttpki csr: a certificate signing request from a key on this host (or a new key made in the same step).

#include "command.hpp"
#include "pki_common.hpp"

#include <mqttpki/pki/csr.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/files.hpp>

#include <fmt/format.h>

#include <ostream>

namespace mqttpki::cli {
namespace {

class CsrCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    auto* key = app.add_option("--key", key_, "Existing private key (PEM or DER; SEC1 EC keys accepted)");
    auto* new_key = app.add_option("--new-key", new_key_, "Generate a new key into FILE (0600) and use it");
    key->excludes(new_key);
    app.add_option("--cn", cn_, "Common name; for a client it becomes the MQTT user name")->required();
    app.add_option("--san", sans_,
                   "Subject alternative name, repeatable: DNS:host, IP:addr, URI:scheme:..., email:user@host; prefer DNS names: mbedTLS 2.28 (ESP32, many devices) does not match IP SANs");
    app.add_option("--org", org_, "Organization (O)");
    app.add_option("--country", country_, "Two-letter country code (C)");
    app.add_option("--out", out_, "Where to write the CSR (default: CN.csr in the current folder)");
    app.add_option("--key-type", key_type_, "Type of the --new-key: p256, p384 or ed25519 (Ed25519: mbedTLS 2.x devices such as the ESP32 and some JavaScript TLS stacks cannot verify it; P-256 works everywhere)")->capture_default_str();
    app.add_option("--passphrase-file", passphrase_file_,
                   "Passphrase of an encrypted --key, first line of FILE (else $MQTTPKI_PASSPHRASE or a prompt)")
        ->type_name("FILE");
    app.add_flag("--force", force_, "Overwrite --out (and --new-key) if they exist");
    app.footer(
        "Run it on the device that will use the certificate: the key stays here, only the CSR travels.\n"
        "Examples:\n"
        "  mqttpki csr --new-key server_mqtt.key --cn mqtt.example.com --san DNS:mqtt.example.com --san IP:203.0.113.5\n"
        "  mqttpki csr --key client_mqtt.key --cn pi1 --out pi1.csr");
  }

  int run(Context& ctx) override {
    if (key_.empty() && new_key_.empty())
      throw Error(Errc::invalid_argument, "give the key with --key FILE, or --new-key FILE to generate one");
    const auto subject = pki_common::subject_from_flags(cn_, org_, country_);
    const auto sans = pki_common::parse_sans(sans_);
    std::string out = out_;
    if (out.empty()) {
      if (!store::is_valid_name(cn_))
        throw Error(Errc::invalid_argument,
                    fmt::format("CN '{}' cannot be a file name; give the CSR's path with --out FILE", cn_));
      out = cn_ + ".csr";
    }
    pki_common::check_output_free(out, force_);

    if (!new_key_.empty()) {
      const auto type = pki_common::new_key_type(key_type_);
      pki_common::check_output_free(new_key_, force_);
      const auto key = pki::PrivateKey::generate(type);
      const auto csr = pki::Csr::create(key, subject, sans);
      store::Secret pem{key.to_pem()};
      store::write_file_atomic(new_key_, pem.view(), store::mode_secret, force_);
      try {
        store::write_file_atomic(out, csr.to_pem(), store::mode_public, force_);
      } catch (...) {
        std::filesystem::remove(new_key_);  // both files or neither
        throw;
      }
      ctx.out << fmt::format("Wrote {} ({} private key, mode 0600)\n", new_key_, key.type_name());
      print(ctx, out, csr);
      return 0;
    }
    const auto key = pki_common::load_private_key(ctx, "csr", key_, passphrase_file_);
    store::with_file(key_, [&] { pki::check_key_policy(key); });
    const auto csr = pki::Csr::create(key, subject, sans);
    store::write_file_atomic(out, csr.to_pem(), store::mode_public, force_);
    print(ctx, out, csr);
    return 0;
  }

 private:
  static void print(Context& ctx, const std::string& out, const pki::Csr& csr) {
    std::string sans;
    for (const auto& s : csr.sans()) sans += (sans.empty() ? "" : ", ") + s.to_string();
    ctx.out << fmt::format("Wrote {} (subject {}{}{})\n", out, csr.subject().to_string(),
                           sans.empty() ? "" : "; SANs ", sans);
    ctx.out << fmt::format("Next: send {} to the CA and run `mqttpki sign {} --profile server|client`\n", out, out);
  }

  std::string key_;
  std::string new_key_;
  std::string cn_;
  std::vector<std::string> sans_;
  std::string org_;
  std::string country_;
  std::string out_;
  std::string key_type_ = "p256";
  std::string passphrase_file_;
  bool force_ = false;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(CsrCommand, "csr", 30, "Make a certificate signing request (optionally with a new key)")

}  // namespace mqttpki::cli
