// mqttpki list: the certificates the CA has issued, from DIR/ca.db.

#include "command.hpp"
#include "pki_common.hpp"

#include <mqttpki/error.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/index.hpp>
#include <mqttpki/store/renewal.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <ostream>

namespace mqttpki::cli {
namespace {

class ListCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_flag("--json", json_, "Print a JSON array with stable keys");
    app.add_option("--expiring", expiring_,
                   "Only current certificates expiring within this window (e.g. 30d, 2w, 12h) or already expired");
    add_dir_option(app, dir_);
    app.footer(
        "Status is valid, expired, revoked or superseded (replaced by a renewal or by sign --force).\n"
        "Examples:\n"
        "  mqttpki list --dir ~/pki\n"
        "  mqttpki list --expiring 30d --json");
  }

  int run(Context& ctx) override {
    std::optional<std::chrono::seconds> window;
    if (!expiring_.empty()) window = pki_common::duration_option("--expiring", expiring_);
    const auto folder = store::CaFolder::open(dir_);
    const auto index = folder.open_index();  // a consistent snapshot without the lock (WAL)
    const auto now = std::chrono::system_clock::now();

    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    std::vector<std::array<std::string, 6>> table;
    index.for_each([&](const store::IndexEntry& e) {
      std::string status(store::to_string(e.status));
      if (e.status == store::CertStatus::valid && now >= e.not_after) status = "expired";
      // --expiring: what needs action, so a current certificate that has already expired is listed too.
      const bool current = status == "valid" || status == "expired";
      if (window && (!current || (status == "valid" && e.not_after - now > *window))) return;
      const long days_left = pki::days_between(now, e.not_after);
      if (!json_) {  // only what is printed is built: a fleet of 100,000 is listed in well under a second
        table.push_back({e.name, e.serial, e.profile, status, store::format_time(e.not_after), std::to_string(days_left)});
        return;
      }
      nlohmann::ordered_json row;
      row["name"] = e.name;
      row["serial"] = e.serial;
      row["profile"] = e.profile;
      row["status"] = status;
      row["subject"] = e.subject;
      row["not_before"] = store::format_time(e.not_before);
      row["not_after"] = store::format_time(e.not_after);
      row["days_left"] = days_left;
      row["file"] = e.file;
      row["fingerprint_sha256"] = e.sha256;
      if (e.revoked_at) row["revoked_at"] = store::format_time(*e.revoked_at);
      if (!e.revocation_reason.empty()) row["revocation_reason"] = e.revocation_reason;
      if (!e.superseded_by.empty()) row["superseded_by"] = e.superseded_by;
      rows.push_back(std::move(row));
    });
    if (json_) {
      ctx.out << rows.dump(2) << "\n";
      return 0;
    }
    std::size_t wname = 4;
    std::size_t wserial = 6;
    for (const auto& r : table) {
      wname = std::max(wname, r[0].size());
      wserial = std::max(wserial, r[1].size());
    }
    ctx.out << fmt::format("{:<{}}  {:<{}}  {:<7}  {:<10}  {:<20}  {}\n", "NAME", wname, "SERIAL", wserial, "PROFILE",
                           "STATUS", "NOT AFTER", "DAYS LEFT");
    for (const auto& r : table)
      ctx.out << fmt::format("{:<{}}  {:<{}}  {:<7}  {:<10}  {:<20}  {}\n", r[0], wname, r[1], wserial, r[2], r[3], r[4],
                             r[5]);
    if (table.empty())
      ctx.err << (window ? fmt::format("mqttpki list: nothing expires within {}\n", expiring_)
                         : std::string("mqttpki list: no certificates issued yet\n"));
    print_crl(ctx, folder, now, window);
    return 0;
  }

 private:
  // DIR/crl.pem's nextUpdate: once it passes, Mosquitto refuses every client, so `list` shows it.
  static void print_crl(Context& ctx, const store::CaFolder& folder, std::chrono::system_clock::time_point now,
                        std::optional<std::chrono::seconds> window) {
    const auto crl = store::current_crl(folder);
    if (!crl || !crl->next_update) return;
    const auto next = *crl->next_update;
    if (window && next - now > *window) return;
    ctx.out << fmt::format("\nCRL {}: number {}, {} revoked, next update {} ({} days left)\n",
                           store::crl_file(folder.layout()).string(), crl->number ? std::to_string(*crl->number) : "?",
                           crl->revoked_serials.size(), store::format_time(next), pki::days_between(now, next));
    if (next <= now)
      ctx.err << "mqttpki list: warning: the CRL is past its next update, so Mosquitto refuses every client; run "
                 "`mqttpki crl` and reload the broker\n";
  }

  bool json_ = false;
  std::string expiring_;
  std::string dir_;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(ListCommand, "list", 100, "List the certificates the CA has issued")

}  // namespace mqttpki::cli
