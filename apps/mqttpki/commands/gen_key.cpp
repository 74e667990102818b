// mqttpki gen-key: a new private key as PKCS#8 PEM, mode 0600.

#include "command.hpp"
#include "pki_common.hpp"

#include <mqttpki/error.hpp>
#include <mqttpki/store/files.hpp>

#include <fmt/format.h>

#include <ostream>

namespace mqttpki::cli {
namespace {

class GenKeyCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("--out", out_, "Where to write the key (PKCS#8 PEM, mode 0600)")->required();
    app.add_option("--key-type", key_type_, "p256, p384 or ed25519 (Ed25519: mbedTLS 2.x devices such as the ESP32 and some JavaScript TLS stacks cannot verify it; P-256 works everywhere)")->capture_default_str();
    app.add_option("--passphrase-file", passphrase_file_,
                   "Encrypt the key with the passphrase on the first line of FILE (default: unencrypted, as "
                   "Mosquitto and Node-RED need it)")
        ->type_name("FILE");
    app.add_flag("--force", force_, "Overwrite --out if it exists");
    app.footer(
        "The key never leaves this host: make the CSR here with `mqttpki csr` and send only the CSR.\n"
        "Example:\n"
        "  mqttpki gen-key --out client_mqtt.key && mqttpki csr --key client_mqtt.key --cn pi1");
  }

  int run(Context& ctx) override {
    const auto type = pki_common::new_key_type(key_type_);
    pki_common::check_output_free(out_, force_);
    std::optional<store::Secret> passphrase;
    if (!passphrase_file_.empty()) passphrase = store::read_passphrase_file(passphrase_file_);
    const auto key = pki::PrivateKey::generate(type);
    store::Secret pem{key.to_pem(pki_common::view(passphrase))};
    store::write_file_atomic(out_, pem.view(), store::mode_secret, force_);
    ctx.out << fmt::format("Wrote {} ({} private key, PKCS#8{}, mode 0600)\n", out_, key.type_name(),
                           passphrase ? ", encrypted" : "");
    return 0;
  }

 private:
  std::string out_;
  std::string key_type_ = "p256";
  std::string passphrase_file_;
  bool force_ = false;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(GenKeyCommand, "gen-key", 20, "Generate a private key (P-256, P-384 or Ed25519)")

}  // namespace mqttpki::cli
