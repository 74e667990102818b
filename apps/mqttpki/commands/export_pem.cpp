// mqttpki export-pem: any certificate, key or CSR (PEM or DER) to clean PEM, or a ready-to-use bundle of
// files for Node-RED or Mosquitto.

#include "command.hpp"
#include "pki_common.hpp"

#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/types.hpp>
#include <mqttpki/pki/verify.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/ca_signer.hpp>
#include <mqttpki/store/files.hpp>

#include <fmt/format.h>

#include <chrono>
#include <ostream>

namespace mqttpki::cli {
namespace {

class ExportPemCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("input", input_, "Certificate, private key or CSR in PEM or DER (detected automatically)");
    app.add_option("--out", out_, "Output file (default: standard output)");
    app.add_option("--passphrase-file", passphrase_file_,
                   "Passphrase of an encrypted input key, first line of FILE (else $MQTTPKI_PASSPHRASE or a "
                   "prompt)")
        ->type_name("FILE");
    app.add_option("--bundle", bundle_, "Write a set of files for: node-red or mosquitto")
        ->check(CLI::IsMember({"node-red", "mosquitto"}));
    app.add_option("--name", name_, "Bundle: the certificate's NAME in the CA folder (DIR/issued/NAME.crt)");
    app.add_option("--out-dir", out_dir_, "Bundle: the folder to write into (created if missing)");
    app.add_option("--cert", cert_, "Bundle: take the certificate from FILE instead of DIR/issued/NAME.crt");
    app.add_option("--key", key_, "Bundle: also write this private key (as unencrypted PKCS#8, 0600)");
    app.add_flag("--force", force_, "Overwrite existing output files");
    add_dir_option(app, dir_);
    app.footer(
        "Keys come out as unencrypted PKCS#8 (mode 0600), with a warning. SEC1 'EC PRIVATE KEY' files, encrypted\n"
        "PKCS#8 and DER are accepted.\n"
        "Bundles (certificates 0644, key 0600):\n"
        "  --bundle node-red    D/ca_cert.pem, D/NAME_cert.pem, D/NAME_key.pem (with --key)\n"
        "  --bundle mosquitto   D/ca.crt, D/NAME.crt, D/NAME.key (with --key): cafile, certfile, keyfile\n"
        "Examples:\n"
        "  mqttpki export-pem client_mqtt.key --out client_mqtt_key.pem\n"
        "  mqttpki export-pem --bundle node-red --name pi1 --key client_mqtt.key --out-dir ~/mqtt_client/certs");
  }

  int run(Context& ctx) override {
    if (!bundle_.empty()) return run_bundle(ctx);
    if (input_.empty())
      throw Error(Errc::invalid_argument, "give the INPUT file to convert, or --bundle node-red|mosquitto");
    const std::string data = store::read_file(input_);
    const auto kind = pki::detect_kind(pki::as_bytes(data));
    std::string pem;
    bool secret = false;
    switch (kind) {
      case pki::ObjectKind::certificate:
        for (const auto& c : store::with_file(input_, [&] { return pki::Certificate::load_chain(data); }))
          pem += c.to_pem();
        break;
      case pki::ObjectKind::certificate_request:
        pem = pki_common::load_csr(input_).to_pem();
        break;
      case pki::ObjectKind::private_key:
      case pki::ObjectKind::encrypted_private_key:
        pem = pki_common::load_private_key(ctx, "export-pem", input_, passphrase_file_).to_pem();
        secret = true;
        break;
      default:
        pki_common::throw_unrecognised(input_, data, "a certificate, private key or CSR");
    }
    store::Secret hold{std::move(pem)};
    if (out_.empty()) {
      ctx.out << hold.view();
    } else {
      store::write_file_atomic(out_, hold.view(), secret ? store::mode_secret : store::mode_public, force_);
      ctx.err << fmt::format("wrote {}\n", out_);
    }
    if (secret)
      pki_common::warn(ctx, "export-pem",
                       fmt::format("{} holds an UNENCRYPTED private key; keep it 0600 and on this host",
                                   out_.empty() ? std::string("the output") : out_));
    return 0;
  }

 private:
  int run_bundle(Context& ctx) {
    namespace fs = std::filesystem;
    if (name_.empty()) throw Error(Errc::invalid_argument, "--bundle needs --name NAME (the certificate's name)");
    if (out_dir_.empty()) throw Error(Errc::invalid_argument, "--bundle needs --out-dir FOLDER");
    if (!input_.empty() || !out_.empty())
      throw Error(Errc::invalid_argument, "--bundle takes --cert/--key/--out-dir, not INPUT or --out");
    store::validate_name(name_);
    const auto folder = store::CaFolder::open(dir_);
    const auto ca = store::load_ca_cert(folder);
    const fs::path cert_path = cert_.empty() ? folder.layout().issued_cert(name_) : fs::path(cert_);
    if (cert_.empty() && !store::path_exists(cert_path))
      throw Error(Errc::not_found,
                  fmt::format("{}: no such file; sign a certificate for '{}' first or give it with --cert FILE",
                              cert_path.string(), name_));
    const auto cert = pki_common::load_certificate(cert_path);
    const auto check = pki::verify_chain({ca}, cert, pki::Purpose::any, std::chrono::system_clock::now());
    if (!check.ok)
      pki_common::warn(ctx, "export-pem",
                       fmt::format("{} does not verify against {}: {}", cert_path.string(),
                                   folder.layout().ca_cert.string(), check.reason));
    std::optional<pki::PrivateKey> key;
    if (!key_.empty()) {
      key = pki_common::load_private_key(ctx, "export-pem", key_, passphrase_file_);
      if (!key->matches(cert))
        throw Error(Errc::mismatch, fmt::format("{} does not match {}; give the key the CSR was made with",
                                                key_, cert_path.string()));
    }

    const bool node_red = bundle_ == "node-red";
    const fs::path dir(out_dir_);
    const fs::path ca_out = dir / (node_red ? "ca_cert.pem" : "ca.crt");
    const fs::path cert_out = dir / (node_red ? name_ + "_cert.pem" : name_ + ".crt");
    const fs::path key_out = dir / (node_red ? name_ + "_key.pem" : name_ + ".key");
    // All refusals before the first write, so a refused bundle leaves nothing behind.
    pki_common::check_output_free(ca_out, force_);
    pki_common::check_output_free(cert_out, force_);
    if (key) pki_common::check_output_free(key_out, force_);

    store::ensure_dir(dir, key ? store::mode_private_dir : store::mode_public_dir);
    store::write_file_atomic(ca_out, ca.to_pem(), store::mode_public, force_);
    store::write_file_atomic(cert_out, cert.to_pem(), store::mode_public, force_);
    ctx.out << fmt::format("{}\n{}\n", ca_out.string(), cert_out.string());
    if (key) {
      store::Secret pem{key->to_pem()};
      store::write_file_atomic(key_out, pem.view(), store::mode_secret, force_);
      ctx.out << fmt::format("{}\n", key_out.string());
      pki_common::warn(ctx, "export-pem",
                       fmt::format("{} holds an UNENCRYPTED private key; keep it 0600 and on this host",
                                   key_out.string()));
    }
    return 0;
  }

  std::string input_;
  std::string out_;
  std::string passphrase_file_;
  std::string bundle_;
  std::string name_;
  std::string out_dir_;
  std::string cert_;
  std::string key_;
  bool force_ = false;
  std::string dir_;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(ExportPemCommand, "export-pem", 80,
                         "Convert a certificate, key or CSR to clean PEM, or write a Node-RED/Mosquitto bundle")

}  // namespace mqttpki::cli
