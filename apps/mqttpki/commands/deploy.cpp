// mqttpki deploy: install a certificate (with its chain), key, CA certificate and CRL where a service reads
// them, with the bundle's file names, owner, group and modes; reload the service once, only if anything
// changed. Inside a `renew --deploy-hook` it reads what to install from the hook's environment.

#include "command.hpp"
#include "hook.hpp"
#include "install.hpp"
#include "pki_common.hpp"

#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/verify.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/renewal.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <ostream>

namespace mqttpki::cli {
namespace {

namespace fs = std::filesystem;

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

class DeployCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("--to", to_, "The service's certificate folder, e.g. /etc/mosquitto/certs")->required();
    app.add_option("--bundle", bundle_, "File names as the bundle for: mosquitto (default) or node-red")
        ->check(CLI::IsMember({"node-red", "mosquitto"}));
    app.add_option("--name", name_,
                   "NAME for the file names (default: the --cert file's stem); in a hook, deploy only NAME's "
                   "certificate and ignore the others")
        ->type_name("NAME");
    app.add_option("--cert", cert_, "Certificate to install (with any chain after it)")->type_name("FILE");
    app.add_option("--key", key_, "Private key to install (unencrypted PKCS#8, 0600 or 0640 with --group)")
        ->type_name("FILE");
    app.add_option("--cafile", ca_, "CA certificate to install")->type_name("FILE");
    app.add_option("--crl", crl_, "CRL to install")->type_name("FILE");
    app.add_option("--reload", reload_, "Run CMD with /bin/sh -c once, only if a file changed")->type_name("CMD");
    install::add_owner_options(app, owner_, group_);
    app.add_option("--passphrase-file", passphrase_file_, "Passphrase of an encrypted --key")->type_name("FILE");
    app.footer(
        "Files (mosquitto | node-red): CA ca.crt | ca_cert.pem, certificate NAME.crt | NAME_cert.pem, key\n"
        "NAME.key | NAME_key.pem, CRL crl.pem. Each is written atomically and only when its content changed;\n"
        "the certificate must verify against the CA and match the key (given, or already in --to).\n"
        "Without --cert/--cafile/--crl it reads the deploy hook's environment (`renew --deploy-hook`):\n"
        "  MQTTPKI_KIND=certificate  MQTTPKI_CERT, MQTTPKI_CA, MQTTPKI_NAME (skipped unless it is --name)\n"
        "  MQTTPKI_KIND=crl          MQTTPKI_CRL (and MQTTPKI_CA)\n"
        "  MQTTPKI_KIND=ca           MQTTPKI_CA (the renewed CA certificate)\n"
        "Examples:\n"
        "  sudo mqttpki deploy --to /etc/mosquitto/certs --name server --cert server.crt --key server.key \\\n"
        "       --cafile ca.crt --crl crl.pem --owner root --group mosquitto --reload 'systemctl reload mosquitto'\n"
        "  mqttpki renew --all --within 30d --quiet --deploy-hook \\\n"
        "       'mqttpki deploy --to /etc/mosquitto/certs --name server --group mosquitto --reload \"systemctl reload mosquitto\"'");
  }

  int run(Context& ctx) override {
    const bool from_hook = cert_.empty() && ca_.empty() && crl_.empty();
    if (from_hook && !take_hook_environment(ctx)) return 0;
    if (!key_.empty() && cert_.empty())
      throw Error(Errc::invalid_argument, "--key goes with --cert (the certificate it belongs to)");
    if (cert_.empty() && ca_.empty() && crl_.empty())
      throw Error(Errc::invalid_argument,
                  "nothing to deploy: give --cert/--key/--cafile/--crl, or run it as a `renew --deploy-hook`");
    if (name_.empty() && !cert_.empty()) name_ = fs::path(cert_).stem().string();
    if (!name_.empty()) store::validate_name(name_);
    const auto ownership = install::resolve_ownership(owner_, group_);
    const auto files = install::bundle_files(bundle_, to_, name_);
    const auto plan = load_and_check(ctx, files);

    install::prepare_dir(to_, ownership, plan.key.has_value());
    int changed = 0;
    auto put = [&](const fs::path& path, const std::string& bytes, unsigned mode) {
      const bool wrote = install::write_if_changed(path, bytes, mode, ownership);
      ctx.out << fmt::format("{} {}\n", wrote ? "installed" : "unchanged", path.string());
      if (wrote) ++changed;
    };
    // The CA and CRL before the certificate, so a reader never sees a certificate its CA file cannot verify.
    if (plan.ca) put(files.ca, *plan.ca, store::mode_public);
    if (plan.crl) put(files.crl, *plan.crl, store::mode_public);
    if (plan.key) put(files.key, plan.key->view(), install::key_mode(ownership));
    if (plan.cert) put(files.cert, *plan.cert, store::mode_public);

    if (changed == 0 || reload_.empty()) return 0;
    if (const auto failure = run_hook(reload_, {})) {
      ctx.err << fmt::format("mqttpki deploy: error: --reload '{}' {}; the files are installed\n", reload_, *failure);
      return 1;
    }
    ctx.out << fmt::format("reloaded ({})\n", reload_);
    return 0;
  }

 private:
  struct Plan {
    std::optional<std::string> ca;
    std::optional<std::string> crl;
    std::optional<store::Secret> key;
    std::optional<std::string> cert;
  };

  // Fills cert_/ca_/crl_ from a deploy hook's environment. False (after saying why) when this hook run is
  // for another certificate than --name.
  bool take_hook_environment(Context& ctx) {
    const std::string kind = env_or_empty("MQTTPKI_KIND");
    if (kind.empty()) return true;  // not in a hook: run() says what is missing
    if (kind == "certificate") {
      const std::string name = env_or_empty("MQTTPKI_NAME");
      if (!name_.empty() && name != name_) {
        ctx.out << fmt::format("skipped {}: deploying {} only\n", name, name_);
        return false;
      }
      cert_ = env_or_empty("MQTTPKI_CERT");
      ca_ = env_or_empty("MQTTPKI_CA");
      if (name_.empty()) name_ = name;
    } else if (kind == "crl") {
      crl_ = env_or_empty("MQTTPKI_CRL");
      ca_ = env_or_empty("MQTTPKI_CA");
    } else if (kind == "ca") {
      ca_ = env_or_empty("MQTTPKI_CA");
    } else {
      throw Error(Errc::invalid_argument,
                  fmt::format("MQTTPKI_KIND={}: expected certificate, crl or ca (set by `renew --deploy-hook`)", kind));
    }
    return true;
  }

  // Every input read and checked before the first write, so a refusal changes nothing in --to.
  Plan load_and_check(Context& ctx, const install::BundleFiles& files) const {
    Plan plan;
    std::optional<pki::Certificate> ca_cert;
    if (!ca_.empty()) {
      ca_cert = pki_common::load_certificate(ca_);
      plan.ca = ca_cert->to_pem();
    } else if (store::path_exists(files.ca)) {
      ca_cert = pki_common::load_certificate(files.ca);
    }
    if (!crl_.empty()) {
      const std::string data = store::read_file(crl_);
      store::with_file(crl_, [&] { return store::read_crl_info(data); });
      plan.crl = data;
    }
    if (cert_.empty()) return plan;
    const std::string data = store::read_file(cert_);
    const auto chain = store::with_file(cert_, [&] { return pki::Certificate::load_chain(data); });
    if (ca_cert) {
      const auto check = pki::verify_chain({*ca_cert}, chain.front(), pki::Purpose::any,
                                           std::chrono::system_clock::now());
      if (!check.ok)
        throw Error(Errc::verify_failed, fmt::format("{} does not verify against {}: {}; nothing installed", cert_,
                                                     ca_.empty() ? files.ca.string() : ca_, check.reason));
    }
    const fs::path key_path = key_.empty() ? files.key : fs::path(key_);
    if (store::path_exists(key_path)) {
      const auto key = pki_common::load_private_key(ctx, "deploy", key_path, passphrase_file_);
      if (!key.matches(chain.front()))
        throw Error(Errc::mismatch, fmt::format("{} does not match {}; nothing installed (a renewal keeps the key; "
                                                "after a re-key, deploy the new key with --key)",
                                                key_path.string(), cert_));
      if (!key_.empty()) plan.key.emplace(key.to_pem());
    } else if (!key_.empty()) {
      throw Error(Errc::not_found, fmt::format("{}: no such file", key_));
    }
    std::string pem;
    for (const auto& c : chain) pem += c.to_pem();
    plan.cert = std::move(pem);
    return plan;
  }

  std::string to_;
  std::string bundle_ = "mosquitto";
  std::string name_;
  std::string cert_;
  std::string key_;
  std::string ca_;
  std::string crl_;
  std::string reload_;
  std::string owner_;
  std::string group_;
  std::string passphrase_file_;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(DeployCommand, "deploy", 85,
                         "Install certificate, key, CA and CRL into a service's folder; reload it only on change")

}  // namespace mqttpki::cli
