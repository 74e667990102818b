#include "device_link.hpp"

#include "hook.hpp"
#include "pki_common.hpp"

#include <mqttpki/enroll/protocol.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/net/client.hpp>
#include <mqttpki/pki/crl.hpp>
#include <mqttpki/pki/csr.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/files.hpp>

#include <fmt/format.h>

#include <sys/stat.h>

#include <ostream>

namespace mqttpki::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;
using Steady = std::chrono::steady_clock;

// What the device has: its CA(s), its current certificate and key.
struct DeviceFiles {
  std::vector<pki::Certificate> cas;
  pki::Certificate current;
  pki::PrivateKey key;
  fs::path pending_key;  // KEY.next: the new key of a re-key until its certificate is installed
};

DeviceFiles load_device(Context& ctx, const BrokerLink& link) {
  DeviceFiles d{pki::Certificate::load_chain(store::read_file(link.cafile)), pki_common::load_certificate(link.cert),
                pki_common::load_private_key(ctx, "renew", link.key, ""), fs::path(link.key + ".next")};
  if (!d.key.matches(d.current))
    throw Error(Errc::mismatch, fmt::format("{} does not belong to {}; give the key of the current certificate",
                                            link.key, link.cert));
  return d;
}

// The file's own mode and owner, so a replaced certificate or key keeps them (a key 0640 root:mosquitto stays so).
std::pair<unsigned, store::FileOwner> kept_mode(const fs::path& path, unsigned fallback) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {fallback, {}};
  return {static_cast<unsigned>(st.st_mode & 07777), store::FileOwner{static_cast<long>(st.st_uid), static_cast<long>(st.st_gid)}};
}

void replace_file(const fs::path& path, std::string_view bytes, unsigned fallback_mode) {
  auto [mode, owner] = kept_mode(path, fallback_mode);
  if (owner.uid == static_cast<long>(::geteuid())) owner = {};  // our own file: nothing to change (no root needed)
  store::write_file_atomic(path, bytes, mode, /*overwrite=*/true, owner);
}

// A re-key installs the certificate, then moves KEY.next over KEY. A run killed in between left the new
// certificate with the old key: the next run finishes the move before anything else.
bool finish_interrupted_rekey(Context& ctx, const BrokerLink& link, DeviceFiles& d) {
  if (!store::path_exists(d.pending_key) || d.key.matches(d.current)) return false;
  pki::PrivateKey pending = pki_common::load_private_key(ctx, "renew", d.pending_key, "");
  if (!pending.matches(d.current)) return false;
  replace_file(link.key, store::read_file(d.pending_key), store::mode_secret);
  store::remove_file_durable(d.pending_key);
  d.key = std::move(pending);
  return true;
}

// The key to ask a certificate for: the current one, or for a re-key the pending new key (made on the first run
// and kept until its certificate arrives, so a later run can install an answer to an earlier request).
pki::PrivateKey wanted_key(Context& ctx, const DeviceFiles& d, bool rekey) {
  if (!rekey) return d.key;
  if (store::path_exists(d.pending_key)) return pki_common::load_private_key(ctx, "renew", d.pending_key, "");
  pki::PrivateKey fresh = pki::PrivateKey::generate(d.key.type() == pki::KeyType::rsa ? pki::KeyType::p256 : d.key.type());
  store::write_file_atomic(d.pending_key, fresh.to_pem(), store::mode_secret, /*overwrite=*/false);
  return fresh;
}

// Waits for an answer the device may install, until `deadline`. A refusal of `request_id` ends the wait
// with that reason; answers to other requests that fail the checks (old, forged) are skipped.
std::optional<pki::Certificate> await_answer(net::Client& client, const enroll::Expectation& expected,
                                             const std::string& request_id, Steady::time_point deadline,
                                             std::vector<std::string>& skipped) {
  for (auto now = Steady::now(); now < deadline; now = Steady::now()) {
    auto message = client.receive(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    if (!message) break;
    try {
      const enroll::Response response = enroll::decode_response(message->payload_string());
      if (response.refused() && (request_id.empty() || response.request_id != request_id)) continue;
      return enroll::check_answer(response, expected);
    } catch (const Error& e) {
      if (e.code() == Errc::policy) throw;  // the agent refused this very request
      skipped.push_back(e.what());
    }
  }
  return std::nullopt;
}

int installed(Context& ctx, const DeviceRenewal& r, const DeviceFiles& d, const std::string& name,
              const pki::Certificate& cert) {
  replace_file(r.link.cert, cert.to_pem(), store::mode_public);
  if (r.rekey) {
    replace_file(r.link.key, store::read_file(d.pending_key), store::mode_secret);
    store::remove_file_durable(d.pending_key);
  }
  ctx.out << fmt::format("renewed {}{}: serial {} -> {}, valid until {}\n", name, r.rekey ? " with a new key" : "",
                         d.current.serial_hex(), cert.serial_hex(), pki::format_time(cert.not_after()));
  if (r.hook.empty()) return 0;
  auto vars = certificate_hook_vars(name, r.link.cert, r.link.cafile, cert.serial_hex(),
                                    {{"MQTTPKI_KEY", fs::absolute(r.link.key).string()}});
  if (auto failure = run_hook(r.hook, vars)) {
    ctx.err << fmt::format("mqttpki renew: {} is renewed, but the deploy hook failed: {}\n", r.link.cert, *failure);
    return 1;
  }
  return 0;
}

std::string device_name(const DeviceRenewal& r, const pki::Certificate& current) {
  std::string name = r.name.empty() ? current.subject().common_name().value_or("") : r.name;
  if (!store::is_valid_name(name))
    throw Error(Errc::invalid_argument,
                fmt::format("{}: its CN '{}' is not a NAME of the CA's records; give it with --name NAME (as `mqttpki "
                            "list` shows it)",
                            r.link.cert, name));
  return name;
}

}  // namespace

int renew_via(Context& ctx, const DeviceRenewal& r) {
  net::ClientOptions options = broker_link_client(r.link, "--via", "", /*clean_session=*/true);
  DeviceFiles d = load_device(ctx, r.link);
  const std::string name = device_name(r, d.current);
  options.client_id = "mqttpki-renew-" + name;
  if (finish_interrupted_rekey(ctx, r.link, d) && !r.quiet)
    ctx.err << fmt::format("mqttpki renew: finished an interrupted re-key: {} now holds the new key\n", r.link.key);
  const auto now = Clock::now();
  if (r.within && d.current.not_after() - now > *r.within) return 0;  // not due: quiet, for cron
  const pki::PrivateKey key = wanted_key(ctx, d, r.rekey);
  const enroll::Topics topics(r.link.prefix);
  const enroll::Expectation expected{d.cas, d.current, key.public_key(), now};

  net::Client client(options);
  client.connect();
  subscribe_qos1(client, topics.response(name));
  std::vector<std::string> skipped;
  // A retained answer to an earlier run's request comes right after the subscription.
  auto cert = await_answer(client, expected, "", Steady::now() + std::chrono::milliseconds(500), skipped);
  std::string request_id;
  if (!cert) {
    const auto csr = pki::Csr::create(key, d.current.subject(), d.current.sans());
    const enroll::Request request = enroll::make_request(csr, d.current, d.key, now);
    request_id = request.id;
    client.publish(topics.request(name), request.payload, 1);
    cert = await_answer(client, expected, request_id, Steady::now() + r.wait, skipped);
  }
  client.disconnect();
  if (cert) return installed(ctx, r, d, name, *cert);
  for (const auto& s : skipped) ctx.err << fmt::format("mqttpki renew: ignored an answer on {}: {}\n", topics.response(name), s);
  ctx.err << fmt::format("mqttpki renew: {}: request {} is queued on {}; no answer within {} s (is the CA's `mqttpki "
                         "agent` running?); the next run picks the answer up\n",
                         name, request_id, topics.request(name), r.wait.count());
  return exit_queued;
}

namespace {

// The CRL in --out now, when it is one of this CA's; nullopt when there is none. A file that is something
// else is replaced only with --force.
std::optional<pki::CrlInfo> installed_crl(const CrlFetch& f, const pki::Certificate& ca) {
  if (!store::path_exists(f.out)) return std::nullopt;
  const std::string bytes = store::read_file(f.out);
  try {
    if (pki::crl_issued_by(pki::as_bytes(bytes), ca)) return pki::read_crl_info(bytes);
  } catch (const Error&) {
  }
  if (f.force) return std::nullopt;
  throw Error(Errc::already_exists,
              fmt::format("{} is not a CRL of this CA; check the path, or add --force to replace it", f.out));
}

}  // namespace

int crl_via(Context& ctx, const CrlFetch& f) {
  net::ClientOptions options = broker_link_client(f.link, "--via", "", /*clean_session=*/true);
  const auto cas = pki::Certificate::load_chain(store::read_file(f.link.cafile));
  const pki::Certificate& ca = cas.front();
  const auto current = installed_crl(f, ca);
  const enroll::Topics topics(f.link.prefix);
  net::Client client(options);
  client.connect();
  subscribe_qos1(client, topics.crl());
  auto message = client.receive(std::chrono::duration_cast<std::chrono::milliseconds>(f.wait));
  client.disconnect();
  if (!message) {
    ctx.err << fmt::format("mqttpki crl: no CRL published on {} within {} s (is the CA's `mqttpki agent` running?)\n",
                           topics.crl(), f.wait.count());
    return exit_queued;
  }
  const std::string pem = message->payload_string();
  if (!pki::crl_issued_by(pki::as_bytes(pem), ca))
    throw Error(Errc::verify_failed, fmt::format("the CRL on {} is not signed by {}; nothing installed", topics.crl(), f.link.cafile));
  const pki::CrlInfo info = pki::read_crl_info(pem);
  if (!info.next_update || *info.next_update <= Clock::now())
    throw Error(Errc::expired, fmt::format("the CRL on {} (number {}) has expired; nothing installed: the CA host must "
                                           "re-issue it (`mqttpki renew --all --within 30d` does)",
                                           topics.crl(), info.number.value_or(0)));
  if (current && current->number.value_or(0) >= info.number.value_or(0)) return 0;  // up to date
  replace_file(f.out, pem, store::mode_public);
  ctx.out << fmt::format("installed CRL number {} ({} revoked, next update {}) in {}\n", info.number.value_or(0),
                         info.revoked_serials.size(), pki::format_time(*info.next_update), f.out);
  if (f.hook.empty()) return 0;
  if (auto failure = run_hook(f.hook, {{"MQTTPKI_KIND", "crl"},
                                       {"MQTTPKI_CRL", fs::absolute(f.out).string()},
                                       {"MQTTPKI_CA", fs::absolute(f.link.cafile).string()}})) {
    ctx.err << fmt::format("mqttpki crl: {} is installed, but the deploy hook failed: {}\n", f.out, *failure);
    return 1;
  }
  return 0;
}

}  // namespace mqttpki::cli
