// mqttpki agent: the CA host's side of renewal over MQTT (docs/renewal-over-mqtt.md). It is only an MQTT client
// of the broker the devices already use (ours, Mosquitto, a cluster): a persistent session receives the devices'
// signed requests, the rules of enroll/policy.hpp decide, and a renewal goes through store's one issuance path
// (lock, ca.db transaction, files, hook) as `mqttpki renew` does. Answers and the CRL are published retained.

#include "command.hpp"
#include "hook.hpp"
#include "mqtt_common.hpp"
#include "pki_common.hpp"

#include <mqttpki/enroll/policy.hpp>
#include <mqttpki/enroll/protocol.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/net/client.hpp>
#include <mqttpki/text.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/crl.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/renewal.hpp>

#include <fmt/format.h>

#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <variant>

namespace mqttpki::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

volatile std::sig_atomic_t stop_requested = 0;
volatile std::sig_atomic_t reload_requested = 0;
extern "C" void on_stop_signal(int) { stop_requested = 1; }
extern "C" void on_reload_signal(int) { reload_requested = 1; }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_reload_signal;
  sigaction(SIGHUP, &sa, nullptr);
}

// What the agent does with one request: the answer to publish (if any) and the one log line.
struct Decision {
  std::optional<enroll::Response> answer;
  std::string log;
  std::optional<store::RenewItem> renewed;  // for the deploy hook
};

Decision refused(std::string_view name, const enroll::Refusal& r) {
  Decision d;
  d.log = fmt::format("refused {} (request {}): {}", name, r.request_id.empty() ? "-" : r.request_id, r.reason);
  if (r.answer) d.answer = enroll::Response{r.request_id, "", r.reason};
  return d;
}

std::optional<enroll::SignerRecord> signer_record(const std::optional<store::IndexEntry>& entry) {
  if (!entry) return std::nullopt;
  using Status = enroll::SignerRecord::Status;
  const Status status = entry->status == store::CertStatus::valid     ? Status::valid
                        : entry->status == store::CertStatus::revoked ? Status::revoked
                                                                      : Status::superseded;
  return enroll::SignerRecord{entry->name, status, entry->superseded_by};
}

class Agent {
 public:
  Agent(store::CaFolder folder, store::CaMaterial ca, enroll::Topics topics, enroll::Policy policy, std::ostream& log)
      : folder_(std::move(folder)), ca_(std::move(ca)), topics_(std::move(topics)), policy_(policy), limiter_(policy),
        log_(log) {}

  void set_ca(store::CaMaterial ca) { ca_ = std::move(ca); }
  void set_hook(std::string hook) { hook_ = std::move(hook); }
  const enroll::Topics& topics() const { return topics_; }

  void log(std::string_view line) const { log_ << pki::format_time(Clock::now()) << ' ' << line << std::endl; }

  // One request: decide, answer (retained, QoS 1), log, run the hook.
  void handle(net::Client& client, const net::ReceivedMessage& message) {
    const auto name = topics_.request_name(message.topic);
    if (!name) return log(fmt::format("ignored a message on {}: not a request topic", mqttpki::printable(message.topic)));
    Decision d = decide(*name, message.payload, Clock::now());
    if (d.answer) client.publish(topics_.response(*name), enroll::encode_response(*d.answer), 1, /*retain=*/true);
    log(d.log);
    if (d.renewed && !hook_.empty()) {
      const auto& item = *d.renewed;
      if (auto failure = run_hook(hook_, certificate_hook_vars(item.name, item.cert_path, ca_.cert_path, item.new_serial)))
        log(fmt::format("deploy hook for {} failed: {}", item.name, *failure));
    }
  }

  // Publishes DIR/crl.pem (retained) when it differs from what this connection last published.
  void publish_crl(net::Client& client) {
    const fs::path file = store::crl_file(folder_.layout());
    if (!store::path_exists(file)) return;
    std::string pem = store::read_file(file);
    if (pem == published_crl_) return;
    pki::CrlInfo info;
    try {
      info = pki::read_crl_info(pem);
    } catch (const Error& e) {  // said once per content; the devices keep the last good one
      log(fmt::format("not publishing {}: {}", file.string(), e.what()));
      published_crl_ = std::move(pem);
      return;
    }
    client.publish(topics_.crl(), pem, 1, /*retain=*/true);
    log(fmt::format("published CRL number {} ({} revoked) on {}", info.number.value_or(0), info.revoked_serials.size(),
                    topics_.crl()));
    published_crl_ = std::move(pem);
  }
  void forget_published_crl() { published_crl_.clear(); }

  // Request ids older than any request the rules accept are kept no longer.
  void forget_old_requests(Clock::time_point now) {
    auto held = folder_.lock();
    store::Index& index = records(held);
    auto tx = index.begin();
    index.forget_requests(now - policy_.max_age - 2 * policy_.max_skew);
    tx.commit();
  }

 private:
  Decision decide(std::string_view name, const std::vector<std::uint8_t>& payload, Clock::time_point now) {
    if (!limiter_.allow_total(now))
      return refused(name, enroll::Refusal{"over the agent's total request rate", false, {}});
    auto checked = enroll::check_request(name, payload, ca_.cert, policy_, now);
    if (auto* r = std::get_if<enroll::Refusal>(&checked)) return refused(name, *r);
    auto& request = std::get<enroll::CheckedRequest>(checked);
    try {
      return issue(request, now);
    } catch (const Error& e) {
      log(fmt::format("error {} (request {}): {}", name, request.request_id, e.what()));
      return refused(name, enroll::Refusal{"the CA could not issue now (see the agent's log)", true, request.request_id});
    }
  }

  // Under the folder lock, in one ca.db transaction: the signer's record, the request id (used once), NAME's
  // rate, and the renewal through the one issuance path. A request from a superseded signer is answered again
  // before the id is looked at, so a replayed copy of an answered request re-publishes its certificate instead of
  // overwriting the retained answer with a refusal.
  Decision issue(const enroll::CheckedRequest& request, Clock::time_point now) {
    auto held = folder_.lock();
    store::Index& index = records(held);
    auto tx = index.begin();
    const auto entry = index.find_serial(request.signer.serial_hex());
    if (auto refusal = enroll::check_signer_record(request, signer_record(entry))) {
      std::optional<Decision> again = answer_again(index, request, entry);
      return again ? std::move(*again) : refused(request.name, *refusal);
    }
    const auto refuse_committed = [&](std::string reason) {
      tx.commit();
      return refused(request.name, enroll::Refusal{std::move(reason), true, request.request_id});
    };
    if (!index.record_request(request.request_id, request.name, now))
      return refuse_committed("replayed request (its id was used before)");
    if (!limiter_.allow_name(request.name, now))
      return refuse_committed(
          fmt::format("over the limit of {} requests per hour for {}", policy_.per_name_per_hour, request.name));
    store::LeafRenewOptions options;
    options.now = now;
    store::RenewItem item = request.rekey ? store::rekey_name(index, ca_, request.name, request.csr, options)
                                          : store::renew_name(index, ca_, request.name, options);
    if (item.status != store::RenewStatus::renewed) return refuse_committed(item.message);
    auto staged = folder_.stage_certificate_files(index, held);
    tx.commit();
    folder_.publish_certificate_files(index, staged);
    return renewed(index, request, std::move(item));
  }

  Decision renewed(const store::Index& index, const enroll::CheckedRequest& request, store::RenewItem item) const {
    Decision d;
    d.answer = enroll::Response{request.request_id, chain_pem(index, item.new_serial), ""};
    d.log = fmt::format("renewed {} (request {}{}): serial {} -> {}, valid until {}{}", request.name,
                        request.request_id, request.rekey ? ", new key" : "", item.old_serial, item.new_serial,
                        pki::format_time(item.new_not_after),
                        item.warnings.empty() ? "" : fmt::format(" (warning: {})", item.warnings.front()));
    d.renewed = std::move(item);
    return d;
  }

  // A device that asked twice before the first answer reached it (the agent was offline, so its requests
  // queued) signs the second with the certificate the first one superseded. When NAME's current certificate
  // is that renewal and carries the key the CSR asks for, it gets that certificate again: nothing is issued.
  std::optional<Decision> answer_again(const store::Index& index, const enroll::CheckedRequest& request,
                                       const std::optional<store::IndexEntry>& signer) const {
    if (!signer || signer->status != store::CertStatus::superseded || signer->name != request.name) return std::nullopt;
    const auto current = index.find_serial(signer->superseded_by);
    if (!current || current->status != store::CertStatus::valid ||
        current->public_key_sha256 != request.csr.public_key().fingerprint_sha256())
      return std::nullopt;
    Decision d;
    d.answer = enroll::Response{request.request_id, chain_pem(index, current->serial), ""};
    d.log = fmt::format("answered {} (request {}) again with serial {}: it was renewed already (issued nothing)",
                        request.name, request.request_id, current->serial);
    return d;
  }

  // The CA's records under the folder lock, kept open between requests: reopening per request cost SQLite's
  // WAL files and the schema check each time (docs/benchmarks.md). Another writer's unwritten files are written
  // as open_index(held) does; a ca.db that is another file now (init-ca --force) is opened afresh.
  store::Index& records(const store::FolderLock& held) {
    const auto identity = file_identity(folder_.layout().db);
    if (index_ && identity == index_identity_) {
      folder_.write_certificate_files(*index_, held);
    } else {
      index_ = folder_.open_index(held);
      index_identity_ = file_identity(folder_.layout().db);
    }
    return *index_;
  }

  static std::pair<dev_t, ino_t> file_identity(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {0, 0};
    return {st.st_dev, st.st_ino};
  }

  std::string chain_pem(const store::Index& index, const std::string& serial) const {
    const auto der = index.certificate_der(serial);
    if (!der) throw Error(Errc::not_found, fmt::format("{}: no bytes recorded for serial {}", index.path().string(), serial));
    return pki::certificate_pem(pki::as_bytes(*der)) + ca_.cert.to_pem();
  }

  store::CaFolder folder_;
  store::CaMaterial ca_;
  enroll::Topics topics_;
  enroll::Policy policy_;
  enroll::RateLimiter limiter_;
  std::ostream& log_;
  std::string hook_;
  std::string published_crl_;
  std::optional<store::Index> index_;
  std::pair<dev_t, ino_t> index_identity_{};
};

// Sleeps up to `d`, waking early for SIGTERM.
void pause_for(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stop_requested && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

class AgentCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("--broker", link_.address, "The broker the devices use, HOST:PORT")->required();
    add_broker_link_options(app, link_, "The agent's (a client certificate of this CA, e.g. `mqttpki sign ... --name ca-agent`)");
    app.add_option("--client-id", client_id_, "MQTT client id of the persistent session")->capture_default_str();
    app.add_option("--grace", grace_, "Accept a signer certificate this long after it expired (e.g. 7d)")
        ->type_name("DURATION");
    app.add_option("--max-age", max_age_, "Refuse requests signed longer ago than this")->capture_default_str();
    app.add_option("--max-request-bytes", policy_.max_request_bytes, "Largest request accepted")
        ->capture_default_str()->check(CLI::Range(1024, 1024 * 1024));
    app.add_option("--per-name-per-hour", policy_.per_name_per_hour, "Requests accepted per NAME per hour")
        ->capture_default_str()->check(CLI::Range(1, 100000));
    app.add_option("--rate", policy_.total_per_second, "Requests per second the agent handles at most (bursts: one second's)")
        ->capture_default_str()->check(CLI::Range(0.01, 100000.0));
    app.add_option("--deploy-hook", hook_, "Run CMD with /bin/sh -c after each renewal (environment as `renew`'s)")
        ->type_name("CMD");
    pki_common::add_passphrase_file_option(app, passphrase_file_, "of the CA key");
    add_dir_option(app, dir_);
    app.footer(footer_text());
  }

  int run(Context& ctx) override {
    const auto folder = store::CaFolder::open(dir_);
    policy_.max_age = pki_common::duration_option("--max-age", max_age_);
    if (!grace_.empty()) policy_.grace = pki_common::duration_option("--grace", grace_);
    Agent agent(folder, load_ca(ctx, folder), enroll::Topics(link_.prefix), policy_, ctx.err);
    agent.set_hook(hook_);
    (void)broker_link_client(link_, "--broker", client_id_, false);  // option errors now, not in the loop
    install_signal_handlers();
    serve_until_stopped(ctx, folder, agent);
    agent.log("stopped (SIGTERM)");
    return 0;
  }

 private:
  store::CaMaterial load_ca(Context& ctx, const store::CaFolder& folder) const {
    store::PassphraseRequest request;
    if (!passphrase_file_.empty()) request.file = passphrase_file_;
    request.prompt = "Passphrase for the CA key: ";
    auto ca = store::load_ca(folder, request);
    for (const auto& w : ca.warnings) pki_common::warn(ctx, "agent", w);
    store::check_ca_usable(ca, Clock::now());
    return ca;
  }

  // Connects, serves, and reconnects with backoff (1 s doubling to 60 s) until SIGTERM. SIGHUP reconnects with
  // the TLS files and the CA read again.
  void serve_until_stopped(Context& ctx, const store::CaFolder& folder, Agent& agent) {
    std::chrono::milliseconds backoff{1000};
    bool ever_connected = false;
    while (!stop_requested) {
      try {
        net::Client client(broker_link_client(link_, "--broker", client_id_, /*clean_session=*/false));
        const auto connected = client.connect();
        subscribe_qos1(client, agent.topics().request_filter());
        agent.log(fmt::format("connected to {} as {}{} ({}); waiting for requests on {}", link_.address, client_id_,
                              connected.session_present ? " (session resumed)" : "", connected.tls_summary,
                              agent.topics().request_filter()));
        ever_connected = true;
        backoff = std::chrono::milliseconds(1000);
        serve(client, agent);
        client.disconnect();
      } catch (const Error& e) {
        if (!ever_connected && e.code() != Errc::network) throw;  // a wrong file or option: say so and exit
        agent.log(fmt::format("{}; reconnecting in {} s", e.what(), backoff.count() / 1000));
        pause_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(60000));
      }
      if (reload_requested) reload(ctx, folder, agent);
    }
  }

  void serve(net::Client& client, Agent& agent) {
    using Steady = std::chrono::steady_clock;
    agent.forget_published_crl();
    agent.forget_old_requests(Clock::now());
    // The CRL file is looked at every 5 s (a stat and a read); old request ids are forgotten hourly (a write).
    auto next_crl_check = Steady::now();
    auto next_forget = Steady::now() + std::chrono::hours(1);
    while (!stop_requested && !reload_requested) {
      if (Steady::now() >= next_crl_check) {
        agent.publish_crl(client);
        next_crl_check = Steady::now() + std::chrono::seconds(5);
      }
      if (Steady::now() >= next_forget) {
        agent.forget_old_requests(Clock::now());
        next_forget = Steady::now() + std::chrono::hours(1);
      }
      if (auto message = client.receive(std::chrono::milliseconds(500))) agent.handle(client, *message);
    }
  }

  void reload(Context& ctx, const store::CaFolder& folder, Agent& agent) {
    reload_requested = 0;
    try {
      agent.set_ca(load_ca(ctx, folder));
      agent.log("reloaded the CA and the TLS files (SIGHUP)");
    } catch (const Error& e) {
      agent.log(fmt::format("reload (SIGHUP) kept the old CA: {}", e.what()));
    }
  }

  static std::string footer_text() {
    return "Runs on the CA host and renews devices' certificates over the MQTT link they already have\n"
           "(docs/renewal-over-mqtt.md). It is an MQTT client of the broker (ours, Mosquitto, a cluster) with a\n"
           "persistent session, so requests wait in the broker while the agent is offline.\n"
           "  requests  PREFIX/renew/NAME/request   CMS SignedData from `mqttpki renew --via` on a device\n"
           "  answers   PREFIX/renew/NAME/response  retained: the new certificate, or why it was refused\n"
           "  CRL       PREFIX/crl                  retained: DIR/crl.pem, re-published whenever it changes\n"
           "It only renews: the request must be signed by NAME's current certificate from this CA (not revoked,\n"
           "not superseded, not expired beyond --grace), recently (--max-age), once (the request id), and ask\n"
           "for the same subject and SANs (the same key, or a new one with `renew --via --rekey`). Issuance takes\n"
           "the CA folder's lock and ca.db like `mqttpki renew`. One log line per decision on stderr.\n"
           "The CA key's passphrase comes from --passphrase-file or MQTTPKI_PASSPHRASE (never the command line).\n"
           "Signals: SIGTERM/SIGINT stop; SIGHUP reconnects with the TLS files and the CA read again.\n"
           "\n"
           "Example (the agent's identity is a client certificate of the same CA):\n"
           "  mqttpki gen-key --out agent.key && mqttpki csr --key agent.key --cn ca-agent --out agent.csr\n"
           "  mqttpki sign agent.csr --profile client --name ca-agent\n"
           "  mqttpki agent --broker mqtt.example.com:8883 --cafile pki/ca.crt --cert pki/issued/ca-agent.crt \\\n"
           "      --key agent.key\n"
           "Run it as a service: `mqttpki template agent`.";
  }

  BrokerLink link_;
  std::string client_id_ = "mqttpki-agent";
  std::string grace_;
  std::string max_age_ = "24h";
  std::string hook_;
  std::string passphrase_file_;
  std::string dir_;
  enroll::Policy policy_;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(AgentCommand, "agent", 145, "Renew devices' certificates over MQTT (runs on the CA host)")

}  // namespace mqttpki::cli
