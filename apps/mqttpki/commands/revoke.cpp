// mqttpki revoke: mark certificates revoked in the CA index; `mqttpki crl` then publishes them.

#include "command.hpp"

#include <mqttpki/pki/crl.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/renewal.hpp>
#include <mqttpki/store/revocation.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ostream>
#include <string>

namespace mqttpki::cli {
namespace {

using nlohmann::json;

class RevokeCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("target", target_, "Certificate NAME (revokes all its unexpired certificates) or a SERIAL (hex)")
        ->type_name("NAME|SERIAL")
        ->required();
    app.add_option("--reason", reason_,
                   "keyCompromise, superseded, cessationOfOperation, affiliationChanged or unspecified")
        ->capture_default_str();
    app.add_flag("--json", json_, "Print the revoked certificates as JSON");
    add_dir_option(app, dir_);
    app.footer(
        "Revoking a NAME revokes every unexpired certificate issued under it, superseded ones included\n"
        "(a renewed device's old certificate still verifies until it expires). Revocation takes effect for\n"
        "peers once you publish a CRL: run `mqttpki crl` and reload the broker.\n"
        "Example:\n"
        "  mqttpki revoke sensor-1 --reason keyCompromise && mqttpki crl && systemctl reload mosquitto");
  }

  int run(Context& ctx) override {
    const pki::RevocationReason reason = parse_reason(reason_);
    const auto now = std::chrono::system_clock::now();
    const auto folder = store::CaFolder::open(dir_);
    store::RevokeResult result = [&] {
      const auto held = folder.lock();
      auto index = folder.open_index(held);
      auto tx = index.begin();
      auto r = store::revoke(index, target_, reason, now);
      tx.commit();
      return r;
    }();

    if (json_) {
      auto list = [](const std::vector<store::IndexEntry>& entries) {
        json a = json::array();
        for (const auto& e : entries)
          a.push_back({{"name", e.name},
                       {"serial", e.serial},
                       {"subject", e.subject},
                       {"not_after", store::format_time(e.not_after)},
                       {"revocation_reason", e.revocation_reason}});
        return a;
      };
      ctx.out << json{{"revoked", list(result.revoked)},
                      {"already_revoked", list(result.already_revoked)},
                      {"expired", list(result.expired)}}
                     .dump(2)
              << "\n";
    } else {
      for (const auto& e : result.revoked)
        ctx.out << fmt::format("revoked          {} serial {} ({}; {}, valid until {})\n", e.name, e.serial,
                               e.revocation_reason, e.subject, pki::format_date(e.not_after));
      for (const auto& e : result.already_revoked)
        ctx.out << fmt::format("already revoked  {} serial {} (on {}, {})\n", e.name, e.serial,
                               e.revoked_at ? pki::format_date(*e.revoked_at) : std::string("?"), e.revocation_reason);
      for (const auto& e : result.expired)
        ctx.out << fmt::format("expired          {} serial {} (expired on {}; no longer accepted, left as is)\n",
                               e.name, e.serial, pki::format_date(e.not_after));
    }
    if (!result.revoked.empty())
      ctx.err << fmt::format("mqttpki revoke: now publish it: `mqttpki crl --dir {0}`, then install it where the broker "
                             "reads it and reload: `mqttpki deploy --to /etc/mosquitto/certs --crl {0}/crl.pem "
                             "--reload 'systemctl reload mosquitto'` (or over ssh: see docs/deploy.md); the daily "
                             "`renew --all --within 30d` with a deploy hook also carries it within a day\n",
                             dir_);
    else
      ctx.err << "mqttpki revoke: nothing new to revoke\n";
    return 0;
  }

 private:
  static pki::RevocationReason parse_reason(const std::string& text) {
    pki::RevocationReason reason{};
    try {
      reason = pki::parse_revocation_reason(text);
    } catch (const Error&) {
      reason = pki::RevocationReason::remove_from_crl;  // refused below with the one message
    }
    using R = pki::RevocationReason;
    if (reason != R::unspecified && reason != R::key_compromise && reason != R::superseded &&
        reason != R::cessation_of_operation && reason != R::affiliation_changed && reason != R::privilege_withdrawn &&
        reason != R::ca_compromise)
      throw Error(Errc::invalid_argument,
                  fmt::format("--reason '{}': use keyCompromise, superseded, cessationOfOperation, affiliationChanged "
                              "or unspecified",
                              text));
    return reason;
  }

  std::string target_;
  std::string reason_ = "unspecified";
  bool json_ = false;
  std::string dir_;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(RevokeCommand, "revoke", 60, "Revoke a certificate NAME or SERIAL (then run `mqttpki crl`)")

}  // namespace mqttpki::cli
