// mqttpki init-ca: create the CA folder (DIR/ca.crt, DIR/private/ca.key, DIR/issued/, DIR/ca.db).

#include "command.hpp"
#include "pki_common.hpp"

#include <mqttpki/pki/ca.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/renewal.hpp>

#include <fmt/format.h>

#include <chrono>
#include <ostream>

namespace mqttpki::cli {
namespace {

class InitCaCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("--cn", cn_, "Common name of the CA, e.g. \"Home MQTT CA\"")->required();
    app.add_option("--org", org_, "Organization (O)");
    app.add_option("--country", country_, "Two-letter country code (C)");
    app.add_option("--days", days_, "Validity in days")->capture_default_str()->check(CLI::Range(1, 36500));
    app.add_option("--crl-days", crl_days_, "Days until the first (empty) CRL's nextUpdate; renewals keep the length")
        ->capture_default_str()
        ->check(CLI::Range(1, 3650));
    app.add_option("--key-type", key_type_, "p256, p384 or ed25519 (Ed25519: mbedTLS 2.x devices such as the ESP32 and some JavaScript TLS stacks cannot verify it; P-256 works everywhere)")->capture_default_str();
    app.add_option("--pathlen", pathlen_, "basicConstraints pathlen (0: the CA signs only leaf certificates)")
        ->capture_default_str()
        ->check(CLI::Range(0, 16));
    pki_common::add_passphrase_file_option(app, passphrase_file_, "that encrypts the new CA key");
    app.add_flag("--force", force_,
                 "Replace an existing CA; its files move to DIR/backup/<UTC time>/ first");
    add_dir_option(app, dir_);
    app.footer(
        "Writes DIR/ca.crt, DIR/private/ca.key (0600, in a 0700 folder), DIR/issued/ and DIR/ca.db (the CA's records, SQLite).\n"
        "The CA key is encrypted when a passphrase comes from --passphrase-file, $MQTTPKI_PASSPHRASE or a\n"
        "terminal prompt (empty answer: unencrypted); otherwise it is written unencrypted with a warning.\n"
        "Refuses to touch an existing CA unless --force.\n"
        "Example:\n"
        "  mqttpki init-ca --cn \"Home MQTT CA\" --org Home --country DE --dir ~/pki --passphrase-file ~/.ca-pass");
  }

  int run(Context& ctx) override {
    namespace store = mqttpki::store;
    const store::CaLayout layout(dir_);
    if (store::CaFolder::has_ca(dir_) && !force_)
      throw Error(Errc::already_exists,
                  fmt::format("{} already holds a CA ({}); use --force to replace it (the old files move to "
                              "{}/backup/)",
                              dir_, layout.ca_cert.string(), dir_));
    const auto type = pki_common::new_key_type(key_type_);
    const auto subject = pki_common::subject_from_flags(cn_, org_, country_);

    store::PassphraseRequest request;
    if (!passphrase_file_.empty()) request.file = passphrase_file_;
    request.confirm = true;
    request.prompt = "Passphrase for the new CA key (empty: none): ";
    const auto passphrase = store::read_passphrase(request);

    const auto now = std::chrono::system_clock::now();
    const auto key = pki::PrivateKey::generate(type);
    pki::CaOptions options;
    options.subject = subject;
    options.days = days_;
    options.pathlen = pathlen_;
    options.now = now;
    const auto cert = pki::make_ca(key, options);

    std::string key_pem = key.to_pem(pki_common::view(passphrase));
    auto created = [&] {
      try {
        return store::CaFolder::create(dir_, cert.to_pem(), key_pem, force_, now);
      } catch (...) {
        store::Secret wipe{std::move(key_pem)};
        throw;
      }
    }();
    store::Secret wipe{std::move(key_pem)};
    const auto crl = write_empty_crl(cert, key, now);

    if (!passphrase)
      pki_common::warn(ctx, "init-ca",
                       fmt::format("{} is not encrypted; protect it, or recreate the CA with --passphrase-file",
                                   layout.ca_key.string()));
    if (created.backup)
      ctx.err << fmt::format("mqttpki init-ca: the previous CA was moved to {}\n", created.backup->string());
    ctx.out << fmt::format("Created CA \"{}\" in {}\n", subject.to_string(), dir_);
    ctx.out << fmt::format("  certificate  {} ({}, valid until {}, {} days)\n", layout.ca_cert.string(),
                           key.type_name(), pki::format_date(cert.not_after()),
                           pki::days_between(now, cert.not_after()));
    ctx.out << fmt::format("  private key  {} (mode 0600, {})\n", layout.ca_key.string(),
                           passphrase ? "encrypted" : "NOT encrypted");
    ctx.out << fmt::format("  records      {}\n", layout.db.string());
    ctx.out << fmt::format("  crl          {} (nothing revoked, next update {}; `renew --all` keeps it fresh)\n",
                           crl.path.string(), pki::format_date(crl.next_update));
    ctx.out << fmt::format("  sha256       {}\n", cert.fingerprint_sha256());
    if (created.backup) ctx.out << fmt::format("  backup       {}\n", created.backup->string());
    return 0;
  }

 private:
  // An empty, valid DIR/crl.pem from the start, so a broker can be set up with crlfile before the first
  // revocation, and the first revocation only changes a file every host already fetches.
  store::CrlWritten write_empty_crl(const pki::Certificate& cert, const pki::PrivateKey& key,
                                    std::chrono::system_clock::time_point now) const {
    const auto folder = store::CaFolder::open(dir_);
    const auto held = folder.lock();
    auto index = folder.open_index(held);
    const store::CaMaterial ca{cert, key, folder.layout().ca_cert, {}, {}};
    return store::write_crl(folder, index, ca, crl_days_, now);
  }

  std::string cn_;
  std::string org_;
  std::string country_;
  int days_ = 3650;
  int crl_days_ = 30;
  std::string key_type_ = "p256";
  int pathlen_ = 0;
  std::string passphrase_file_;
  bool force_ = false;
  std::string dir_;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(InitCaCommand, "init-ca", 10, "Create a CA folder: CA key and self-signed certificate")

}  // namespace mqttpki::cli
