// mqttpki status: one view of what needs attention on the CA host: expired and expiring certificates (expired
// first), the CRL's age and nextUpdate, the CA's own expiry, and with --broker whether a running broker serves
// the current certificate. Exit 0 when all is well, 3 when something needs action (cron: --quiet).

#include "command.hpp"
#include "mqtt_common.hpp"
#include "pki_common.hpp"

#include <mqttpki/net/served_certificate.hpp>
#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/pki/verify.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/renewal.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <ostream>
#include <sstream>

namespace mqttpki::cli {
namespace {

using nlohmann::ordered_json;
using Clock = std::chrono::system_clock;

// One line of the report; `action` says what to run when it needs attention.
struct Finding {
  std::string what;  // "certificate", "crl", "ca", "broker"
  std::string label;
  std::string text;
  std::string action;  // empty: fine
  Clock::time_point when{};
};

class StatusCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("--within", within_, "Certificates expiring within DURATION need action (default 30d)")
        ->type_name("DURATION");
    app.add_option("--broker", broker_, "Also check the certificate a running broker serves, HOST:PORT");
    app.add_option("--cafile", cafile_, "With --broker: verify the served certificate against FILE and the host name")
        ->type_name("FILE");
    app.add_flag("--json", json_, "Print the report as JSON");
    app.add_flag("--quiet", quiet_, "Print nothing unless something needs action (for cron)");
    add_dir_option(app, dir_);
    app.footer(
        "Needs action (exit 3): a current certificate expired or expiring within --within; the CRL past its\n"
        "nextUpdate or with less than a quarter of its lifetime left (the daily renewal re-issues it at half,\n"
        "so it has missed runs); the CA certificate expiring within 90 days (or --within, if longer); the\n"
        "broker serving a certificate that is not the current one in the index. Exit 0: all is well.\n"
        "Examples:\n"
        "  mqttpki status\n"
        "  mqttpki status --quiet --broker mqtt.example.com:8883 --cafile /etc/mosquitto/certs/ca.crt  # cron");
  }

  int run(Context& ctx) override {
    now_ = Clock::now();
    window_ = std::chrono::seconds(30L * 86400);
    if (!within_.empty()) window_ = pki_common::duration_option("--within", within_);
    const auto folder = store::CaFolder::open(dir_);
    const auto index = folder.open_index();
    std::vector<Finding> findings = certificate_findings(index);
    findings.push_back(crl_finding(folder));
    findings.push_back(ca_finding(folder));
    if (!broker_.empty()) findings.push_back(broker_finding(index));
    const bool action = std::any_of(findings.begin(), findings.end(), [](const auto& f) { return !f.action.empty(); });
    if (quiet_ && !action) return 0;
    if (json_) {
      ordered_json list = ordered_json::array();
      for (const auto& f : findings)
        list.push_back({{"what", f.what}, {"label", f.label}, {"status", f.action.empty() ? "ok" : "action"},
                        {"detail", f.text}, {"action", f.action}});
      ctx.out << ordered_json{{"needs_action", action}, {"items", list}}.dump(2) << "\n";
    } else {
      for (const auto& f : findings) {
        ctx.out << fmt::format("{:<7} {:<12} {}: {}\n", f.action.empty() ? "ok" : "ACTION", f.what, f.label, f.text);
        if (!f.action.empty()) ctx.out << fmt::format("{:<20} -> {}\n", "", f.action);
      }
    }
    return action ? 3 : 0;
  }

 private:
  // Current certificates (valid, not superseded): expired ones first, then those expiring within the
  // window, soonest first; one summary line for the rest.
  std::vector<Finding> certificate_findings(const store::Index& index) const {
    std::vector<Finding> expired;
    std::vector<Finding> expiring;
    std::size_t fine = 0;
    for (const auto& e : index.entries()) {
      if (e.status != store::CertStatus::valid) continue;
      const auto days = pki::days_between(now_, e.not_after);
      if (now_ >= e.not_after)
        expired.push_back({"certificate", e.name,
                           fmt::format("serial {} EXPIRED on {} ({} days ago)", e.serial, pki::format_date(e.not_after), -days),
                           fmt::format("mqttpki renew {} (then deploy it), or revoke it if retired", e.name), e.not_after});
      else if (e.not_after - now_ <= window_)
        expiring.push_back({"certificate", e.name,
                            fmt::format("serial {} expires on {} (in {} days)", e.serial, pki::format_date(e.not_after), days),
                            fmt::format("mqttpki renew {} (the daily `renew --all --within 30d` should have)", e.name),
                            e.not_after});
      else
        ++fine;
    }
    auto by_date = [](const Finding& a, const Finding& b) { return a.when < b.when; };
    std::sort(expired.begin(), expired.end(), by_date);
    std::sort(expiring.begin(), expiring.end(), by_date);
    expired.insert(expired.end(), expiring.begin(), expiring.end());
    expired.push_back({"certificates", "current", fmt::format("{} valid beyond the window", fine), "", {}});
    return expired;
  }

  Finding crl_finding(const store::CaFolder& folder) const {
    const auto path = store::crl_file(folder.layout()).string();
    const auto crl = store::current_crl(folder);
    if (!crl) return {"crl", path, "no CRL yet (`mqttpki crl` writes one; brokers with crlfile need it)", "", {}};
    const auto age = pki::days_between(crl->this_update, now_);
    if (!crl->next_update) return {"crl", path, fmt::format("{} days old, no nextUpdate", age), "", {}};
    const auto next = *crl->next_update;
    std::string text = fmt::format("number {}, {} revoked, {} days old, next update {} (in {} days)",
                                   crl->number.value_or(0), crl->revoked_serials.size(), age,
                                   pki::format_date(next), pki::days_between(now_, next));
    std::string action;
    if (now_ >= next)
      action = "EXPIRED: brokers with crlfile refuse every client; run `mqttpki renew --all --within 30d` with "
               "its deploy hook now";
    else if (next - now_ < (next - crl->this_update) / 4)
      action = "less than a quarter of its life left: the daily renewal is not running; run it and check cron";
    return {"crl", path, text, action, next};
  }

  Finding ca_finding(const store::CaFolder& folder) const {
    const auto ca = store::load_ca_cert(folder);
    const auto limit = std::max(window_, std::chrono::seconds(90L * 86400));
    const auto days = pki::days_between(now_, ca.not_after());
    std::string action;
    if (ca.not_after() - now_ <= limit)
      action = "mqttpki renew --ca --days 3650, then copy ca.crt to every client and broker";
    return {"ca", folder.layout().ca_cert.string(),
            fmt::format("\"{}\" expires on {} (in {} days)", ca.subject().to_string(), pki::format_date(ca.not_after()), days),
            action, ca.not_after()};
  }

  Finding broker_finding(const store::Index& index) const;

  std::string within_;
  std::string broker_;
  std::string cafile_;
  bool json_ = false;
  bool quiet_ = false;
  std::string dir_;
  Clock::time_point now_;
  std::chrono::seconds window_{};
};

// The served certificate against the index: the current one for its NAME, an old one, or a stranger.
Finding StatusCommand::broker_finding(const store::Index& index) const {
  const HostPort where = parse_host_port("--broker", broker_);
  Finding f{"broker", broker_, "", "", {}};
  pki::Bytes der;
  try {
    der = net::served_certificate(where.host, where.port, std::chrono::seconds(10));
  } catch (const Error& e) {
    if (e.code() != Errc::network) throw;
    f.text = e.what();
    f.action = "the broker is not reachable over TLS: is it running and listening there?";
    return f;
  }
  const auto served = pki::Certificate::load(der);
  const std::string serial = served.serial_hex();
  const auto& entries = index.entries();
  const auto it = std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.serial == serial; });
  if (it == entries.end()) {
    f.text = fmt::format("serves serial {} (\"{}\"), which this CA's index does not hold", serial, served.subject().to_string());
    f.action = "deploy the server certificate from this CA (`mqttpki deploy`) and reload the broker";
    return f;
  }
  const bool current = it->status == store::CertStatus::valid && now_ < it->not_after;
  f.text = fmt::format("serves {} serial {} ({}{})", it->name, serial, current ? std::string("the current one") : std::string(store::to_string(it->status)),
                       it->superseded_by.empty() ? "" : ", current is " + it->superseded_by);
  if (!current) f.action = fmt::format("deploy issued/{}.crt to the broker and reload it (`mqttpki deploy`)", it->name);
  if (!cafile_.empty()) {
    const auto ca = pki_common::load_certificate(cafile_);
    const auto check = pki::verify_chain({ca}, served, pki::Purpose::server, now_, where.host);
    if (!check.ok) f.action = fmt::format("clients will refuse it: {} (against {})", check.reason, cafile_);
  }
  return f;
}

}  // namespace

MQTTPKI_REGISTER_COMMAND(StatusCommand, "status", 67,
                         "What needs attention: expired/expiring certificates, CRL freshness, CA expiry, a broker's certificate")

}  // namespace mqttpki::cli
