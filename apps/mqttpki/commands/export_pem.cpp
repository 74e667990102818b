// mqttpki export-pem: any certificate, key or CSR (PEM or DER) to clean PEM, or a ready-to-use bundle of
// files for Node-RED or Mosquitto.

#include "command.hpp"
#include "install.hpp"
#include "pki_common.hpp"

#include <mqttpki/error.hpp>
#include <mqttpki/pki/types.hpp>
#include <mqttpki/pki/verify.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/renewal.hpp>

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
    app.add_option("--name", name_,
                   "Bundle: the certificate's NAME in the CA folder (DIR/issued/NAME.crt); with --cafile, the "
                   "file names' NAME (default: the --cert file's stem)");
    app.add_option("--cafile", cafile_, "Bundle: the CA certificate from FILE, so no CA folder is needed (on the "
                                        "server or the device)")
        ->type_name("FILE");
    app.add_option("--out-dir", out_dir_, "Bundle: the folder to write into (created if missing)");
    app.add_option("--cert", cert_, "Bundle: take the certificate from FILE instead of DIR/issued/NAME.crt");
    app.add_option("--key", key_, "Bundle: also write this private key (as unencrypted PKCS#8, 0600)");
    app.add_option("--crl", crl_, "Bundle: also write this CRL as crl.pem (default with a CA folder: DIR/crl.pem)")
        ->type_name("FILE");
    install::add_owner_options(app, owner_, group_);
    app.add_flag("--force", force_, "Overwrite existing output files");
    add_dir_option(app, dir_);
    app.footer(
        "Keys come out as unencrypted PKCS#8 (mode 0600), with a warning. SEC1 'EC PRIVATE KEY' files, encrypted\n"
        "PKCS#8 and DER are accepted.\n"
        "Bundles (certificates 0644, key 0600; with --group the key is 0640 and a new folder 0750):\n"
        "  --bundle node-red    D/ca_cert.pem, D/NAME_cert.pem, D/NAME_key.pem (with --key)\n"
        "  --bundle mosquitto   D/ca.crt, D/NAME.crt, D/NAME.key (with --key): cafile, certfile, keyfile\n"
        "  and D/crl.pem (crlfile) from --crl FILE or the CA folder's crl.pem\n"
        "Examples:\n"
        "  mqttpki export-pem client_mqtt.key --out client_mqtt_key.pem\n"
        "  mqttpki export-pem --bundle node-red --name pi1 --key client_mqtt.key --out-dir ~/mqtt_client/certs\n"
        "  sudo mqttpki export-pem --bundle mosquitto --cafile ca.crt --cert server.crt --key server.key \\\n"
        "       --out-dir /etc/mosquitto/certs --owner root --group mosquitto   # no CA folder on the server");
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
    if (out_dir_.empty()) throw Error(Errc::invalid_argument, "--bundle needs --out-dir FOLDER");
    if (!input_.empty() || !out_.empty())
      throw Error(Errc::invalid_argument, "--bundle takes --cert/--key/--out-dir, not INPUT or --out");
    const auto ownership = install::resolve_ownership(owner_, group_);
    const auto [ca, ca_path, cert_path] = bundle_inputs();
    const auto cert = pki_common::load_certificate(cert_path);
    const auto check = pki::verify_chain({ca}, cert, pki::Purpose::any, std::chrono::system_clock::now());
    if (!check.ok)
      pki_common::warn(ctx, "export-pem",
                       fmt::format("{} does not verify against {}: {}", cert_path.string(), ca_path.string(),
                                   check.reason));
    std::optional<pki::PrivateKey> key;
    if (!key_.empty()) {
      key = pki_common::load_private_key(ctx, "export-pem", key_, passphrase_file_);
      if (!key->matches(cert))
        throw Error(Errc::mismatch, fmt::format("{} does not match {}; give the key the CSR was made with",
                                                key_, cert_path.string()));
    }

    const auto files = install::bundle_files(bundle_, out_dir_, name_);
    const fs::path& ca_out = files.ca;
    const fs::path& cert_out = files.cert;
    const fs::path& key_out = files.key;
    // All refusals before the first write, so a refused bundle leaves nothing behind.
    pki_common::check_output_free(ca_out, force_);
    pki_common::check_output_free(cert_out, force_);
    if (key) pki_common::check_output_free(key_out, force_);
    std::optional<std::string> crl;
    if (!crl_.empty()) {
      crl = store::read_file(crl_);
      store::with_file(crl_, [&] { return store::read_crl_info(*crl); });
      pki_common::check_output_free(files.crl, force_);
    }

    install::prepare_dir(out_dir_, ownership, key.has_value());
    store::write_file_atomic(ca_out, ca.to_pem(), store::mode_public, force_, ownership.ids);
    store::write_file_atomic(cert_out, cert.to_pem(), store::mode_public, force_, ownership.ids);
    ctx.out << fmt::format("{}\n{}\n", ca_out.string(), cert_out.string());
    if (crl) {
      store::write_file_atomic(files.crl, *crl, store::mode_public, force_, ownership.ids);
      ctx.out << fmt::format("{}\n", files.crl.string());
    }
    if (key) {
      store::Secret pem{key->to_pem()};
      store::write_file_atomic(key_out, pem.view(), install::key_mode(ownership), force_, ownership.ids);
      ctx.out << fmt::format("{}\n", key_out.string());
      pki_common::warn(ctx, "export-pem",
                       fmt::format("{} holds an UNENCRYPTED private key; keep it {:o} and on this host",
                                   key_out.string(), install::key_mode(ownership)));
    }
    return 0;
  }

  struct BundleInputs {
    pki::Certificate ca;
    std::filesystem::path ca_path;
    std::filesystem::path cert_path;
  };

  // The CA and certificate: from --cafile and --cert (no CA folder), or from the CA folder by --name. Also
  // settles name_, which names the bundle's files.
  BundleInputs bundle_inputs() {
    namespace fs = std::filesystem;
    if (!cafile_.empty()) {
      if (cert_.empty())
        throw Error(Errc::invalid_argument, "--cafile needs --cert FILE (the certificate to bundle with it)");
      if (name_.empty()) name_ = fs::path(cert_).stem().string();
      store::validate_name(name_);
      return {pki_common::load_certificate(cafile_), cafile_, cert_};
    }
    if (name_.empty())
      throw Error(Errc::invalid_argument,
                  "--bundle needs --name NAME (a certificate in the CA folder), or --cafile CA --cert CERT "
                  "(files, no CA folder)");
    store::validate_name(name_);
    if (!store::path_exists(dir_))
      throw Error(Errc::not_found,
                  fmt::format("no CA folder {} here; on a host without the CA, give the files: --cafile ca.crt "
                              "--cert {}.crt",
                              dir_, name_));
    const auto folder = store::CaFolder::open(dir_);
    const fs::path cert_path = cert_.empty() ? folder.layout().issued_cert(name_) : fs::path(cert_);
    if (cert_.empty() && !store::path_exists(cert_path))
      throw Error(Errc::not_found,
                  fmt::format("{}: no such file; sign a certificate for '{}' first or give it with --cert FILE",
                              cert_path.string(), name_));
    if (crl_.empty() && store::path_exists(store::crl_file(folder.layout()))) crl_ = store::crl_file(folder.layout());
    return {store::load_ca_cert(folder), folder.layout().ca_cert, cert_path};
  }

  std::string cafile_;
  std::string crl_;
  std::string owner_;
  std::string group_;
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
