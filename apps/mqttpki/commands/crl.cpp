// mqttpki crl: publish the revoked certificates of the index as DIR/crl.pem (for Mosquitto's crlfile).

#include "command.hpp"
#include "device_link.hpp"
#include "pki_common.hpp"

#include <mqttpki/error.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/renewal.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ostream>
#include <string>

namespace mqttpki::cli {
namespace {

using nlohmann::json;

class CrlCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("--days", days_, "Days until the CRL's nextUpdate")->capture_default_str()->check(CLI::Range(1, 3650));
    app.add_option("--out", out_, "Also write a copy to FILE (e.g. /etc/mosquitto/certs/crl.pem)")->type_name("FILE");
    app.add_flag("--force", force_, "Overwrite an --out FILE that is not an earlier CRL of this CA");
    app.add_flag("--json", json_, "Print the result as JSON");
    app.add_option("--via", via_.link.address,
                   "On a host that is not the CA host (the broker's): install the CRL the CA's `mqttpki agent` "
                   "publishes over the broker HOST:PORT into --out, when newer")
        ->type_name("HOST:PORT");
    add_broker_link_options(app, via_.link, "With --via: this host's");
    app.add_option("--wait", wait_seconds_, "With --via: seconds to wait for the published CRL")
        ->capture_default_str()->check(CLI::Range(1, 3600));
    app.add_option("--deploy-hook", hook_, "With --via: run CMD with /bin/sh -c after installing a newer CRL")
        ->type_name("CMD");
    pki_common::add_passphrase_file_option(app, passphrase_file_, "of the CA key");
    add_dir_option(app, dir_);
    app.footer(
        "Writes DIR/crl.pem: a v2 CRL with a CRL number and authorityKeyIdentifier, signed by the CA, listing\n"
        "every certificate `mqttpki revoke` marked. Point Mosquitto at it with `crlfile` (the listener also\n"
        "needs require_certificate true) and reload the broker after each new CRL.\n"
        "Once nextUpdate has passed, Mosquitto refuses EVERY client: `mqttpki renew --all --within 30d`\n"
        "(the cron job) re-issues the CRL when its nextUpdate comes within the window.\n"
        "With --via (on the broker host, from cron): take the CRL the CA's `mqttpki agent` publishes retained on\n"
        "PREFIX/crl, check its signature, issuer and nextUpdate, and install it in --out only when its number\n"
        "is higher, then run the hook. Exit 5: nothing published within --wait.\n"
        "Examples:\n"
        "  mqttpki crl --days 30 --out /etc/mosquitto/certs/crl.pem && systemctl reload mosquitto\n"
        "  mqttpki crl --via mqtt.example.com:8883 --cafile ca.crt --cert server.crt --key server.key \\\n"
        "      --out /etc/mosquitto/certs/crl.pem --deploy-hook 'systemctl reload mosquitto'");
  }

  // The copy follows DIR/crl.pem, which is already in place: say so, so a full disk is not taken for "no CRL".
  void write_copy(const store::CrlWritten& written) const {
    try {
      store::write_file_atomic(out_, written.pem, store::mode_public, /*overwrite=*/true);
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("{} (CRL number {}) is written, but not the copy: {}; fix that and run "
                                        "`mqttpki crl --out {}` again",
                                        written.path.string(), written.number, e.what(), out_));
    }
  }

  int run(Context& ctx) override {
    if (!via_.link.address.empty()) return run_via(ctx);
    if (!hook_.empty()) throw Error(Errc::invalid_argument, "--deploy-hook goes with --via (on the CA host, `renew --all --deploy-hook` re-issues and deploys the CRL)");
    const auto now = std::chrono::system_clock::now();
    const auto folder = store::CaFolder::open(dir_);
    store::PassphraseRequest request;
    if (!passphrase_file_.empty()) request.file = passphrase_file_;
    request.prompt = "Passphrase for the CA key: ";

    if (!out_.empty()) check_out_replaceable(folder);  // before anything is written
    const auto written = [&] {
      const auto held = folder.lock();
      auto index = folder.open_index(held);
      const auto ca = store::load_ca(folder, request);
      for (const auto& w : ca.warnings) pki_common::warn(ctx, "crl", w);
      return store::write_crl(folder, index, ca, days_, now);
    }();
    if (!out_.empty()) write_copy(written);

    if (json_) {
      json j{{"file", written.path.string()},
             {"number", written.number},
             {"revoked", written.revoked},
             {"next_update", pki::format_time(written.next_update)}};
      if (!out_.empty()) j["copy"] = out_;
      ctx.out << j.dump(2) << "\n";
    } else {
      ctx.out << fmt::format("wrote {}: CRL number {}, {} revoked, next update {}\n", written.path.string(),
                             written.number, written.revoked, pki::format_time(written.next_update));
      if (!out_.empty()) ctx.out << fmt::format("copied to {}\n", out_);
    }
    ctx.err << fmt::format("mqttpki crl: reload the broker so it reads the new CRL; re-issue it before {} (the daily "
                           "`mqttpki renew --all --within 30d` does)\n",
                           pki::format_date(written.next_update));
    return 0;
  }

 private:
  int run_via(Context& ctx) {
    if (out_.empty()) throw Error(Errc::invalid_argument, "--via needs --out FILE: where this host keeps the CRL (e.g. /etc/mosquitto/certs/crl.pem)");
    via_.out = out_;
    via_.hook = hook_;
    via_.wait = std::chrono::seconds(wait_seconds_);
    via_.force = force_;
    return crl_via(ctx, via_);
  }

  // --out replaces an earlier CRL of this CA without --force, never an unrelated file.
  void check_out_replaceable(const store::CaFolder& folder) const {
    if (force_ || !store::path_exists(out_)) return;
    try {
      const auto info = store::read_crl_info(store::read_file(out_));
      if (info.issuer == store::load_ca_cert(folder).subject().to_string()) return;
    } catch (const Error&) {  // not a CRL: refused below
    }
    throw Error(Errc::already_exists,
                fmt::format("{} exists and is not a CRL of this CA; use --force to overwrite it", out_));
  }

  int days_ = 30;
  bool force_ = false;
  std::string out_;
  bool json_ = false;
  std::string passphrase_file_;
  std::string dir_;
  CrlFetch via_;
  int wait_seconds_ = 10;
  std::string hook_;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(CrlCommand, "crl", 70, "Write DIR/crl.pem from the revoked certificates (Mosquitto crlfile)")

}  // namespace mqttpki::cli
