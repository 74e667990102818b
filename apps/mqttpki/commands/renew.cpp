// mqttpki renew: re-issue certificates before they expire (the same key), renew the CA itself, and keep the
// CRL fresh. Built to run from cron: `renew --all --within 30d --quiet` prints nothing when nothing is due.

#include "command.hpp"
#include "device_link.hpp"
#include "hook.hpp"
#include "pki_common.hpp"

#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/lock.hpp>
#include <mqttpki/store/renewal.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>


#include <algorithm>
#include <chrono>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

namespace mqttpki::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool looks_like_file(const std::string& target) {
  if (target.find('/') != std::string::npos) return true;
  const auto ext = fs::path(target).extension().string();
  return (ext == ".crt" || ext == ".pem" || ext == ".cer" || ext == ".der") && store::path_exists(target);
}

class RenewCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("targets", targets_,
                   "Certificate NAMEs (as in `mqttpki list`) or certificate FILEs issued by this CA")
        ->type_name("NAME|CERTFILE");
    app.add_flag("--all", all_, "Renew every valid issued certificate (and the CRL, see below)");
    app.add_option("--within", within_,
                   "Renew only what expires within DURATION (30d, 12h, 2w); otherwise a quiet no-op")
        ->type_name("DURATION");
    app.add_option("--days", days_, "Validity in days of the new certificates, or of the CA with --ca (default: the original's length)")
        ->check(CLI::Range(1, 36500));
    rekey_option_ = app.add_option("--rekey", rekey_csr_,
                   "Re-key: sign this fresh CSR (new key) for the one NAME given, instead of reusing the old key; "
                   "with --via, a flag: the device makes the new key")
        ->type_name("CSR")
        ->expected(0, 1);
    app.add_flag("--ca", ca_, "Renew the CA certificate itself: same key, subject and key identifier");
    app.add_option("--ca-cert", ca_cert_, "With --ca: a CA certificate outside a CA folder (e.g. the seed's ca.crt)")
        ->type_name("FILE");
    app.add_option("--ca-key", ca_key_, "With --ca-cert: its private key")->type_name("FILE");
    app.add_option("--deploy-hook", hook_, "Run CMD with /bin/sh -c after each renewed certificate (see below)")
        ->type_name("CMD");
    app.add_option("--name", import_name_, "For a CERTFILE made outside mqttpki: the NAME to record it under")
        ->type_name("NAME");
    app.add_option("--profile", import_profile_,
                   "For a CERTFILE made outside mqttpki: server or client (default: from its extendedKeyUsage)")
        ->type_name("PROFILE");
    app.add_option("--san", import_sans_,
                   "For a CERTFILE made outside mqttpki: add a SAN (DNS:host, IP:addr); servers need one")
        ->type_name("SAN");
    add_via_options(app);
    app.add_flag("--json", json_, "Print the results as JSON");
    app.add_flag("--quiet", quiet_, "Print only what was renewed or failed; nothing when nothing was due");
    pki_common::add_passphrase_file_option(app, passphrase_file_, "of the CA key");
    add_dir_option(app, dir_);
    app.footer(
        "A renewed certificate keeps its public key, subject, SANs and profile and gets a new serial and\n"
        "validity; the index marks the old one superseded (it still verifies until it expires), and\n"
        "DIR/issued/NAME.crt is replaced. The validity is capped at the CA's expiry (with a warning).\n"
        "With --all, DIR/crl.pem (if any) is re-issued too, for its previous length; with --within D only\n"
        "when less than half its lifetime remains or a revoked certificate is missing from it (Mosquitto\n"
        "refuses every client once its CRL has expired), and the deploy hook runs for it too.\n"
        "--ca replaces DIR/ca.crt (or the --ca-cert FILE) in place after copying the old one to\n"
        "archive/ca-<UTC time>.crt next to it; copy the new one to every client and the broker.\n"
        "A certificate FILE issued by this CA outside mqttpki (e.g. the seed guide's openssl commands;\n"
        "put its CA in DIR as DIR/ca.crt and DIR/private/ca.key) is added to the index and renewed;\n"
        "--name, --profile and --san fill in what such a certificate lacks.\n"
        "\n"
        "On a device, --via renews the device's own --cert through the CA's `mqttpki agent` over the broker\n"
        "(docs/renewal-over-mqtt.md): a CMS request signed with the current certificate and key; the answer is\n"
        "installed only if it chains to --cafile, keeps the subject and SANs, carries the key asked for and\n"
        "expires later. --rekey makes the new key on the device (kept in KEY.next until its certificate\n"
        "arrives). --name NAME: the device's name in the CA's records (default: its CN). Exit 5: the request\n"
        "is queued in the broker, no answer within --wait; the next run installs the retained answer.\n"
        "\n"
        "Deploy hook environment (one run per renewed certificate and for a re-issued CRL, after the CA\n"
        "folder is unlocked; its output goes to stderr; no other MQTTPKI_* variable, so never the passphrase):\n"
        "  MQTTPKI_KIND    certificate, crl, or ca (with --ca); `mqttpki deploy` reads these\n"
        "  MQTTPKI_CRL     with crl: path of the new CRL\n"
        "  MQTTPKI_NAME    the certificate's NAME (\"ca\" with --ca)\n"
        "  MQTTPKI_CERT    path of the new certificate\n"
        "  MQTTPKI_CA      path of the CA certificate (ca.crt)\n"
        "  MQTTPKI_SERIAL  serial of the new certificate (hex)\n"
        "A failing hook is reported and makes the exit status non-zero; the renewal itself stays.\n"
        "\n"
        "Exit status: 0 when everything due was renewed, or nothing was due; 1 when any certificate or hook\n"
        "failed; 2 usage error; 4 the CA folder stayed locked by another mqttpki for 30 s (renewals\n"
        "serialise on it).\n"
        "\n"
        "Examples:\n"
        "  mqttpki renew sensor-1                       # renew now, same key\n"
        "  mqttpki renew --all --within 30d --quiet --deploy-hook \\\n"
        "    'mqttpki deploy --to /etc/mosquitto/certs --name server --reload \"systemctl reload mosquitto\"'  # cron\n"
        "  mqttpki renew sensor-1 --rekey sensor-1.csr  # new key from the device's fresh CSR\n"
        "  mqttpki renew --ca --days 3650               # the CA; then copy ca.crt to clients and broker\n"
        "  mqttpki renew --ca --ca-cert ca.crt --ca-key ca.key   # a CA made with the openssl commands\n"
        "  mqttpki renew --via mqtt.example.com:8883 --cafile ca.crt --cert pi1.crt --key pi1.key --within 30d \\\n"
        "    --quiet --deploy-hook 'systemctl restart nodered'   # on the Pi, from cron");
  }

  int run(Context& ctx) override {
    now_ = std::chrono::system_clock::now();
    rekey_given_ = rekey_option_->count() > 0;
    if (!via_.link.address.empty()) return run_via(ctx);
    if (rekey_given_ && rekey_csr_.empty())
      throw Error(Errc::invalid_argument, "--rekey needs the fresh CSR (`mqttpki renew NAME --rekey CSR`), or --via");
    if (ca_) return run_ca(ctx);
    if (!ca_cert_.empty() || !ca_key_.empty())
      throw Error(Errc::invalid_argument, "--ca-cert/--ca-key go with --ca (renewing the CA certificate itself)");
    if (targets_.empty() && !all_)
      throw Error(Errc::invalid_argument,
                  "nothing to renew: give NAMEs or certificate files, or --all (e.g. `mqttpki renew --all --within 30d`)");
    if (!import_profile_.empty() || !import_sans_.empty())
      for (const auto& t : targets_)
        if (!looks_like_file(t))
          throw Error(Errc::invalid_argument,
                      fmt::format("--profile and --san apply when adopting a certificate FILE; '{}' is already "
                                  "recorded, and a renewal keeps its profile and SANs: to change them, sign a new "
                                  "CSR with `mqttpki sign CSR --name {} --profile server --san DNS:HOST --force`",
                                  t, t));
    if (!rekey_csr_.empty() && (targets_.size() != 1 || all_))
      throw Error(Errc::invalid_argument, "--rekey CSR renews exactly one NAME: `mqttpki renew NAME --rekey CSR`");
    return run_leaves(ctx);
  }

 private:
  struct HookOutcome {
    std::string name;
    std::optional<std::string> failure;
  };

  // The device side of renewal over MQTT (device_link.hpp): no CA folder here.
  void add_via_options(CLI::App& app) {
    app.add_option("--via", via_.link.address,
                   "On a device: renew its own certificate through the CA's `mqttpki agent`, over the broker HOST:PORT")
        ->type_name("HOST:PORT");
    add_broker_link_options(app, via_.link, "With --via: the device's current");
    app.add_option("--wait", wait_seconds_, "With --via: seconds to wait for the answer (exit 5 when none came)")
        ->capture_default_str()->check(CLI::Range(1, 3600));
  }

  int run_via(Context& ctx) {
    if (all_ || ca_ || !targets_.empty() || days_ || !rekey_csr_.empty() || !import_profile_.empty() || !import_sans_.empty())
      throw Error(Errc::invalid_argument,
                  "--via renews this device's own certificate (--cert): it takes no NAMEs, --all, --ca, --days or "
                  "CSR; the CA decides the validity");
    via_.name = import_name_;
    via_.within = window();
    via_.rekey = rekey_given_;
    via_.wait = std::chrono::seconds(wait_seconds_);
    via_.hook = hook_;
    via_.quiet = quiet_;
    return renew_via(ctx, via_);
  }

  std::optional<std::chrono::seconds> window() const {
    if (within_.empty()) return std::nullopt;
    return pki_common::duration_option("--within", within_);
  }

  // The CRL rule: with a window (the cron mode), re-issue DIR/crl.pem when less than half its lifetime
  // (nextUpdate - thisUpdate) remains, or when a revoked certificate is missing from it; the window itself
  // does not matter. A daily run thus re-issues a 30-day CRL every 15 days and a 7-day one every 3-4 days: a
  // broker's copy never passes its nextUpdate unless the job fails for half the CRL's life, and a run with
  // nothing due still needs no CA key. Without a window, always (as for certificates).
  bool crl_needs_reissue(const store::CrlInfo& crl, const store::Index& index,
                         std::optional<std::chrono::seconds> within) const {
    if (!within || !crl.next_update) return true;
    if (now_ >= crl.this_update + (*crl.next_update - crl.this_update) / 2) return true;
    const auto revoked = index.revoked();
    return std::any_of(revoked.begin(), revoked.end(), [&](const store::IndexEntry& e) {
      return std::find(crl.revoked_serials.begin(), crl.revoked_serials.end(), e.serial) == crl.revoked_serials.end();
    });
  }

  store::PassphraseRequest passphrase_request() const {
    store::PassphraseRequest request;
    if (!passphrase_file_.empty()) request.file = passphrase_file_;
    request.prompt = "Passphrase for the CA key: ";
    return request;
  }

  std::optional<std::string> hook_for(const std::string& kind, const std::string& name, const fs::path& cert,
                                      const fs::path& ca, const std::string& serial) const {
    HookVars vars = certificate_hook_vars(name, cert, ca, serial);
    vars.front().second = kind;  // "ca" with --ca
    return run_hook(hook_, vars);
  }

  // A certificate made outside mqttpki without extendedKeyUsage (the seed guide's `openssl x509 -req`) does
  // not say its role. Renewing it as a client by default turned the guide's server.crt into a client
  // certificate; so a host-name SAN or a file name with "server" in it makes it a server, and the choice is
  // said either way. nullopt: its extendedKeyUsage decides (in the library).
  static std::optional<pki::Profile> adoption_profile(Context& ctx, const pki::Certificate& cert, const std::string& file,
                                                      std::optional<pki::Profile> given) {
    if (given || !cert.extended_key_usage().empty()) return given;
    const auto sans = cert.sans();
    const bool host_san = std::any_of(sans.begin(), sans.end(), [](const auto& n) {
      return n.type == pki::GeneralName::Type::dns || n.type == pki::GeneralName::Type::ip;
    });
    const bool server_file = fs::path(file).stem().string().find("server") != std::string::npos;
    const bool server = host_san || server_file;
    ctx.err << fmt::format(
        "mqttpki renew: {} has no extendedKeyUsage; adopting it as a {} certificate ({}); give --profile {} if "
        "that is wrong\n",
        file, server ? "server" : "client",
        host_san ? "it has a host-name SAN" : server_file ? "its file name says server" : "nothing marks it a server",
        server ? "client" : "server");
    return server ? pki::Profile::server : pki::Profile::client;
  }

  // Certificates in `dir` signed by the CA whose authorityKeyIdentifier also names the CA certificate's
  // issuer and serial: they stop verifying (OpenSSL) once the CA certificate is renewed. Unreadable files and
  // other certificates are skipped: this is advice, the renewal has happened.
  static std::vector<fs::path> leaves_naming_ca_serial(const fs::path& dir, const pki::Certificate& ca) {
    std::vector<fs::path> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const auto ext = entry.path().extension().string();
      if (!entry.is_regular_file(ec) || (ext != ".crt" && ext != ".pem" && ext != ".cer")) continue;
      try {
        const auto cert = pki_common::load_certificate(entry.path());
        if (!cert.is_ca() && cert.authority_key_id_names_serial() && store::signed_by(cert, ca))
          found.push_back(entry.path());
      } catch (const Error&) {
        // not a certificate (a key, a CRL): not ours to judge here
      }
    }
    std::sort(found.begin(), found.end());
    return found;
  }

  // ---- the CA itself
  int run_ca(Context& ctx) {
    if (!targets_.empty() || all_ || !rekey_csr_.empty() || !within_.empty())
      throw Error(Errc::invalid_argument,
                  "--ca renews only the CA certificate; run the certificate renewals as a separate command");
    if (ca_cert_.empty() != ca_key_.empty())
      throw Error(Errc::invalid_argument, "give both --ca-cert FILE and --ca-key FILE, or neither (then DIR is used)");

    fs::path lock_file;
    fs::path archive;
    fs::path leaves_dir;  // where the CA's certificates lie: DIR/issued, or next to --ca-cert
    fs::path cert_path;
    fs::path key_path;
    if (!ca_cert_.empty()) {
      cert_path = ca_cert_;
      key_path = ca_key_;
      const fs::path parent = cert_path.has_parent_path() ? cert_path.parent_path() : fs::path(".");
      lock_file = parent / ".lock";
      archive = parent / "archive";
      leaves_dir = parent;
    } else {
      const auto folder = store::CaFolder::open(dir_);
      cert_path = folder.layout().ca_cert;
      key_path = folder.layout().ca_key;
      lock_file = folder.layout().lock;
      archive = store::archive_dir(folder.layout());
      leaves_dir = folder.layout().issued_dir;
    }
    auto lock = store::FolderLock::acquire(lock_file);
    const auto ca = store::load_ca_files(cert_path, key_path, passphrase_request());
    for (const auto& w : ca.warnings) pki_common::warn(ctx, "renew", w);
    store::CaRenewOptions options;
    options.days = days_;
    options.now = now_;
    const auto result = store::renew_ca_certificate(ca, archive, options);
    lock.release();
    const auto pinned = leaves_naming_ca_serial(leaves_dir, result.old_cert);

    const std::string serial = result.new_cert.serial_hex();
    std::optional<std::string> hook_failure;
    if (!hook_.empty()) hook_failure = hook_for("ca", "ca", result.written, result.written, serial);
    print_ca(ctx, result, pinned, hook_failure);
    if (hook_failure) {
      ctx.err << fmt::format("mqttpki renew: deploy hook for the CA {}; the renewal itself stands\n", *hook_failure);
      return 1;
    }
    return 0;
  }

  void print_ca(Context& ctx, const store::CaRenewResult& result, const std::vector<fs::path>& pinned,
                const std::optional<std::string>& hook_failure) const {
    const std::string serial = result.new_cert.serial_hex();
    if (json_) {
      json j{{"ca",
              {{"subject", result.new_cert.subject().to_string()},
               {"old_serial", result.old_cert.serial_hex()},
               {"new_serial", serial},
               {"old_not_after", pki::format_time(result.old_cert.not_after())},
               {"new_not_after", pki::format_time(result.new_cert.not_after())},
               {"file", result.written.string()},
               {"archived", result.archived.string()}}}};
      json reissue = json::array();
      for (const auto& file : pinned) reissue.push_back(file.string());
      j["ca"]["reissue"] = std::move(reissue);
      if (!hook_.empty()) j["ca"]["hook"] = hook_failure ? json(*hook_failure) : json("ok");
      ctx.out << j.dump(2) << "\n";
    } else {
      ctx.out << fmt::format("renewed CA \"{}\": serial {} -> {}, valid until {}\n",
                             result.new_cert.subject().to_string(), result.old_cert.serial_hex(), serial,
                             pki::format_date(result.new_cert.not_after()));
      ctx.out << fmt::format("  certificate  {}\n  old copy     {}\n", result.written.string(),
                             result.archived.string());
      const auto days = pki::days_between(now_, result.new_cert.not_after());
      if (!days_ && days < 3600)  // not for a CA that already lives about ten years
        ctx.out << fmt::format("  lifetime     {} days, the old certificate's length; for ten years: `mqttpki renew "
                               "--ca --days 3650` (again, now)\n",
                               days);
      ctx.out << fmt::format(
          "Next: copy {} to every client and to the broker (its cafile), then reload the broker\n"
          "(e.g. systemctl reload mosquitto). Certificates issued under the old CA certificate keep\n"
          "verifying under the new one: same key, same subject, same key identifier{}\n",
          result.written.string(), pinned.empty() ? "." : ", except these:");
      for (const auto& file : pinned)
        ctx.out << fmt::format("  re-issue {}  (its authorityKeyIdentifier names the old CA certificate's serial, as "
                               "easy-rsa writes it; OpenSSL refuses it under the new one): mqttpki renew {}\n",
                               file.string(), file.string());
    }
  }

  // ---- certificates (and the CRL)
  // What one run decided and did, under the lock; hooks and printing follow after it is released.
  struct LeafRun {
    std::vector<store::RenewItem> items;
    std::optional<store::CrlWritten> crl;
    std::optional<std::string> crl_failure;
    std::optional<std::string> ca_warning;
    std::vector<std::string> warnings;  // about the CA's files (permissions)
  };
  // One target: a NAME, or a certificate FILE (with the certificate read from it).
  struct Target {
    std::string name;
    std::optional<pki::Certificate> file;
    bool due = false;
  };
  // Renewals committed per transaction: one fsync per batch, not per certificate, while a kill loses at most
  // one batch's unreported work (nothing half-done: the batch is rolled back whole).
  static constexpr std::size_t batch_size = 500;

  int run_leaves(Context& ctx) {
    const auto folder = store::CaFolder::open(dir_);
    LeafRun run;
    {
      const auto held = folder.lock();
      auto index = folder.open_index(held);  // under the lock: a concurrent renewal's result is seen here
      renew_under_lock(ctx, folder, held, index, run);
    }  // unlocked: hooks may run mqttpki themselves
    return report(ctx, folder, run);
  }

  // The targets and whether each is due, decided before touching the CA key, so a cron run with nothing due
  // needs no passphrase.
  std::vector<Target> read_targets(const store::Index& index, std::optional<std::chrono::seconds> within) const {
    std::vector<std::string> names = all_ ? index.valid_names() : targets_;
    const std::size_t from_index = all_ ? names.size() : 0;  // NAMEs the index says are valid
    if (all_)
      for (const auto& t : targets_)
        if (std::find(names.begin(), names.end(), t) == names.end()) names.push_back(t);
    // Which of those are due, in one query: not_after is whole seconds, so not_after < now + within + 1 s
    // (rounded down to seconds) is is_due()'s not_after - now <= within.
    std::unordered_set<std::string> due_in_index;
    if (from_index > 0 && within)
      for (auto& name : index.valid_names(now_ + *within + std::chrono::seconds(1))) due_in_index.insert(std::move(name));
    std::vector<Target> targets;
    targets.reserve(names.size());
    for (auto& name : names) {
      Target t{std::move(name), std::nullopt, false};
      if (looks_like_file(t.name)) {
        t.file = pki_common::load_certificate(t.name);
        t.due = store::is_due(t.file->not_after(), now_, within);
      } else if (targets.size() < from_index) {
        t.due = !within || due_in_index.contains(t.name);
      } else {
        const auto current = index.valid_by_name(t.name);
        t.due = current.empty() || store::is_due(current.front().not_after, now_, within);
      }
      targets.push_back(std::move(t));
    }
    return targets;
  }

  void renew_under_lock(Context& ctx, const store::CaFolder& folder, const store::FolderLock& held, store::Index& index,
                        LeafRun& run) {
    const auto within = window();
    std::optional<pki::Csr> csr;
    if (!rekey_csr_.empty()) csr = pki_common::load_csr(rekey_csr_);
    const auto targets = read_targets(index, within);
    const bool any_due = csr || std::any_of(targets.begin(), targets.end(), [](const Target& t) { return t.due; });
    std::optional<store::CrlInfo> crl_info;
    const bool crl_due = all_ && crl_is_due(folder, index, within, crl_info, run);
    run.ca_warning = ca_expiry_warning(folder, within);

    std::optional<store::CaMaterial> ca;
    if (any_due || crl_due) {
      ca = store::load_ca(folder, passphrase_request());
      store::check_ca_usable(*ca, now_);
      run.warnings = ca->warnings;
    }
    store::LeafRenewOptions options;
    options.now = now_;
    options.days = days_;
    options.within = within;
    std::optional<store::RenewalBatch> ahead;  // the next batch, signing on helper threads while this one is written
    for (std::size_t start = 0; start < targets.size(); start += batch_size) {
      const std::size_t end = std::min(targets.size(), start + batch_size);
      std::vector<store::RenewItem> batch;
      try {
        auto tx = index.begin();
        batch = ahead ? ahead->finish(index) : renew_batch(ctx, index, ca, std::span(targets).subspan(start, end - start),
                                                           csr, options);
        start_ahead(ahead, index, ca, std::span(targets).subspan(end), csr.has_value(), options);
        auto staged = folder.stage_certificate_files(index, held);  // a full disk fails here, before the commit
        tx.commit();
        folder.publish_certificate_files(index, staged);
      } catch (const Error& e) {
        ahead.reset();
        if (start == 0) throw;  // nothing done: the command fails with nothing changed
        // Earlier batches are done: they are reported and their hooks run; this one and the rest failed.
        for (std::size_t i = start; i < targets.size(); ++i)
          run.items.push_back(failed_item(targets[i].name, e.what()));
        return;
      }
      run.items.insert(run.items.end(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
    }
    if (crl_due) write_crl(folder, index, *ca, crl_info, run);
  }

  // Renewed through store::renew_names / RenewalBatch (signed on every core), not renew_one.
  static bool by_name(const std::optional<store::CaMaterial>& ca, bool rekey, const Target& t) {
    return ca && !rekey && !t.file;
  }

  // The next batch (from `rest`) planned and signing on helper threads before this one's files are written and
  // committed, when all its targets are NAMEs; otherwise renew_batch does it in its turn.
  void start_ahead(std::optional<store::RenewalBatch>& ahead, const store::Index& index,
                   const std::optional<store::CaMaterial>& ca, std::span<const Target> rest, bool rekey,
                   const store::LeafRenewOptions& options) const {
    ahead.reset();
    rest = rest.first(std::min(batch_size, rest.size()));
    if (rest.empty() || !std::all_of(rest.begin(), rest.end(), [&](const Target& t) { return by_name(ca, rekey, t); }))
      return;
    std::vector<std::string> names;
    for (const auto& t : rest) names.push_back(t.name);
    ahead.emplace(index, *ca, std::move(names), options);
  }

  // A batch's targets in order; each run of NAMEs is one store::renew_names call.
  std::vector<store::RenewItem> renew_batch(Context& ctx, store::Index& index, const std::optional<store::CaMaterial>& ca,
                                            std::span<const Target> targets, const std::optional<pki::Csr>& csr,
                                            const store::LeafRenewOptions& options) const {
    std::vector<store::RenewItem> items;
    items.reserve(targets.size());
    const auto by_name = [&](const Target& t) { return RenewCommand::by_name(ca, csr.has_value(), t); };
    for (std::size_t i = 0; i < targets.size();) {
      if (!by_name(targets[i])) {
        items.push_back(renew_one(ctx, index, ca, targets[i], csr, options));
        ++i;
        continue;
      }
      std::vector<std::string> names;
      for (; i < targets.size() && by_name(targets[i]); ++i) names.push_back(targets[i].name);
      auto renewed = store::renew_names(index, *ca, names, options);
      items.insert(items.end(), std::make_move_iterator(renewed.begin()), std::make_move_iterator(renewed.end()));
    }
    return items;
  }

  store::RenewItem renew_one(Context& ctx, store::Index& index, const std::optional<store::CaMaterial>& ca,
                             const Target& target, const std::optional<pki::Csr>& csr,
                             const store::LeafRenewOptions& options) const {
    try {
      if (csr) return store::rekey_name(index, *ca, target.name, *csr, options);
      if (target.file) {
        if (!ca) return not_due_item(target.name, target.file->not_after(), target.file->serial_hex(), options.within);
        store::ImportOptions import;
        if (!import_name_.empty()) import.name = import_name_;
        std::optional<pki::Profile> given;
        if (!import_profile_.empty()) given = pki::parse_profile(import_profile_);
        import.profile = index.has_serial(target.file->serial_hex())
                             ? given
                             : adoption_profile(ctx, *target.file, target.name, given);
        import.extra_sans = pki_common::parse_sans(import_sans_);
        import.source_label = target.name;
        return store::renew_certificate(index, *ca, *target.file, import, options);
      }
      // A NAME comes here only when nothing needed the CA key (renew_batch sends the others to renew_names), so
      // it is known and not due (read_targets).
      const auto current = index.valid_by_name(target.name);
      return not_due_item(target.name, current.front().not_after, current.front().serial, options.within);
    } catch (const Error& e) {
      if (e.code() == Errc::io || e.code() == Errc::locked || e.code() == Errc::expired) throw;
      return failed_item(target.name, e.what());
    }
  }

  static store::RenewItem failed_item(const std::string& name, std::string message) {
    store::RenewItem failed;
    failed.name = name;
    failed.status = store::RenewStatus::failed;
    failed.message = std::move(message);
    return failed;
  }

  // DIR/crl.pem is re-issued with --all (crl_needs_reissue), read once per run.
  bool crl_is_due(const store::CaFolder& folder, const store::Index& index, std::optional<std::chrono::seconds> within,
                  std::optional<store::CrlInfo>& info, LeafRun& run) const {
    try {
      info = store::current_crl(folder);
    } catch (const Error& e) {  // a damaged crl.pem must not stop the certificate renewals
      if (e.code() != Errc::bad_format) throw;
      run.crl_failure = e.what();
    }
    return info && crl_needs_reissue(*info, index, within);
  }

  void write_crl(const store::CaFolder& folder, store::Index& index, const store::CaMaterial& ca,
                 const std::optional<store::CrlInfo>& info, LeafRun& run) const {
    int crl_days = 30;
    if (info->next_update) crl_days = store::validity_days(info->this_update, *info->next_update);
    try {
      run.crl = store::write_crl(folder, index, ca, crl_days, now_);
    } catch (const Error& e) {
      // Not even io rethrown: renewed certificates are done and their hooks must run; this fails the exit status.
      if (e.code() == Errc::locked) throw;
      run.crl_failure = e.what();
    }
  }

  std::optional<std::string> ca_expiry_warning(const store::CaFolder& folder,
                                               std::optional<std::chrono::seconds> within) const {
    const auto ca_cert = pki_common::load_certificate(folder.layout().ca_cert);
    if (!within || ca_cert.not_after() - now_ > *within) return std::nullopt;
    return fmt::format("the CA certificate {} {} on {}: run `mqttpki renew --ca`, then copy the new ca.crt to every "
                       "client and the broker",
                       folder.layout().ca_cert.string(), ca_cert.not_after() <= now_ ? "expired" : "expires",
                       pki::format_date(ca_cert.not_after()));
  }

  int report(Context& ctx, const store::CaFolder& folder, const LeafRun& run) const {
    std::vector<HookOutcome> hooks;
    if (!hook_.empty())
      for (const auto& item : run.items)
        if (item.status == store::RenewStatus::renewed)
          hooks.push_back({item.name, hook_for("certificate", item.name, item.cert_path, folder.layout().ca_cert,
                                               item.new_serial)});
    if (!hook_.empty() && run.crl)
      hooks.push_back({"the CRL", run_hook(hook_, {{"MQTTPKI_KIND", "crl"},
                                               {"MQTTPKI_CRL", fs::absolute(run.crl->path).string()},
                                               {"MQTTPKI_CA", fs::absolute(folder.layout().ca_cert).string()}})});
    int failures = run.crl_failure ? 1 : 0;
    for (const auto& item : run.items)
      if (item.status == store::RenewStatus::failed) ++failures;
    for (const auto& h : hooks)
      if (h.failure) ++failures;
    const bool anything_done = run.crl || run.crl_failure || std::any_of(run.items.begin(), run.items.end(), [](const auto& i) {
                                 return i.status != store::RenewStatus::not_due;
                               });
    for (const auto& item : run.items)
      for (const auto& w : item.warnings) pki_common::warn(ctx, "renew", fmt::format("{}: {}", item.name, w));
    if (run.ca_warning) pki_common::warn(ctx, "renew", *run.ca_warning);
    for (const auto& w : run.warnings) pki_common::warn(ctx, "renew", w);
    if (json_) {
      if (!quiet_ || anything_done) print_json(ctx, run.items, hooks, run.crl, run.crl_failure);
    } else {
      print_text(ctx, run.items, run.crl, run.crl_failure);
    }
    for (const auto& h : hooks)
      if (h.failure)
        ctx.err << fmt::format("mqttpki renew: deploy hook for {} {}; the renewal itself stands\n", h.name, *h.failure);
    if (run.crl && !quiet_ && hook_.empty())
      ctx.err << fmt::format("mqttpki renew: no --deploy-hook carries the new CRL; install it where the broker reads "
                             "it and reload: `mqttpki deploy --to /etc/mosquitto/certs --crl {} --reload 'systemctl "
                             "reload mosquitto'`\n",
                             run.crl->path.string());
    return failures == 0 ? 0 : 1;
  }

  // What the library would say for a certificate that is not due, without loading the CA key.
  store::RenewItem not_due_item(const std::string& name, std::chrono::system_clock::time_point not_after,
                                const std::string& serial, std::optional<std::chrono::seconds> within) const {
    store::RenewItem item;
    item.name = name;
    item.status = store::RenewStatus::not_due;
    item.old_serial = serial;
    item.old_not_after = not_after;
    const auto days = pki::days_between(now_, not_after);
    item.message = fmt::format("expires on {} (in {} days), not within {}", pki::format_date(not_after), days,
                               within ? format_seconds(*within) : std::string("the window"));
    return item;
  }

  static std::string format_seconds(std::chrono::seconds s) {
    const auto n = s.count();
    if (n != 0 && n % 86400 == 0) return fmt::format("{}d", n / 86400);
    if (n != 0 && n % 3600 == 0) return fmt::format("{}h", n / 3600);
    if (n != 0 && n % 60 == 0) return fmt::format("{}m", n / 60);
    return fmt::format("{}s", n);
  }

  void print_text(Context& ctx, const std::vector<store::RenewItem>& items, const std::optional<store::CrlWritten>& crl,
                  const std::optional<std::string>& crl_failure) const {
    for (const auto& item : items) {
      switch (item.status) {
        case store::RenewStatus::renewed:
          ctx.out << fmt::format("renewed  {}: serial {} -> {}, valid until {} ({})\n", item.name, item.old_serial,
                                 item.new_serial, pki::format_date(item.new_not_after), item.cert_path.string());
          break;
        case store::RenewStatus::not_due:
          if (!quiet_) ctx.out << fmt::format("not due  {}: {}\n", item.name, item.message);
          break;
        case store::RenewStatus::failed:
          ctx.out << fmt::format("failed   {}: {}\n", item.name, item.message);
          break;
      }
    }
    if (crl)
      ctx.out << fmt::format("renewed  CRL: number {}, {} revoked, next update {} ({})\n", crl->number, crl->revoked,
                             pki::format_date(crl->next_update), crl->path.string());
    if (crl_failure) ctx.out << fmt::format("failed   CRL: {}\n", *crl_failure);
  }

  void print_json(Context& ctx, const std::vector<store::RenewItem>& items, const std::vector<HookOutcome>& hooks,
                  const std::optional<store::CrlWritten>& crl, const std::optional<std::string>& crl_failure) const {
    json list = json::array();
    for (const auto& item : items) {
      json j{{"name", item.name}, {"status", std::string(store::to_string(item.status))}};
      if (!item.old_serial.empty()) j["old_serial"] = item.old_serial;
      if (item.old_not_after != std::chrono::system_clock::time_point{})
        j["old_not_after"] = pki::format_time(item.old_not_after);
      if (item.status == store::RenewStatus::renewed) {
        j["new_serial"] = item.new_serial;
        j["new_not_after"] = pki::format_time(item.new_not_after);
        j["file"] = item.cert_path.string();
        for (const auto& h : hooks)
          if (h.name == item.name) j["hook"] = h.failure ? json(*h.failure) : json("ok");
      }
      if (!item.message.empty()) j["message"] = item.message;
      j["warnings"] = item.warnings;
      list.push_back(std::move(j));
    }
    json out{{"certificates", std::move(list)}};
    if (crl)
      out["crl"] = {{"status", "renewed"},
                    {"number", crl->number},
                    {"revoked", crl->revoked},
                    {"next_update", pki::format_time(crl->next_update)},
                    {"file", crl->path.string()}};
    else if (crl_failure)
      out["crl"] = {{"status", "failed"}, {"message", *crl_failure}};
    if (crl)
      for (const auto& h : hooks)
        if (h.name == "the CRL") out["crl"]["hook"] = h.failure ? json(*h.failure) : json("ok");
    ctx.out << out.dump(2) << "\n";
  }

  std::vector<std::string> targets_;
  bool all_ = false;
  std::string within_;
  std::optional<int> days_;
  std::string rekey_csr_;
  CLI::Option* rekey_option_ = nullptr;
  bool rekey_given_ = false;
  DeviceRenewal via_;
  int wait_seconds_ = 30;
  bool ca_ = false;
  std::string ca_cert_;
  std::string ca_key_;
  std::string hook_;
  std::string import_name_;
  std::string import_profile_;
  std::vector<std::string> import_sans_;
  bool json_ = false;
  bool quiet_ = false;
  std::string passphrase_file_;
  std::string dir_;
  std::chrono::system_clock::time_point now_;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(RenewCommand, "renew", 50,
                         "Renew certificates (same key) before they expire, the CA itself, and the CRL; cron-safe")

}  // namespace mqttpki::cli
