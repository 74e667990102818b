#include <mqttpki/net/verify.hpp>

#include <mqttpki/net/broker.hpp>
#include <mqttpki/net/client.hpp>
#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/pki/verify.hpp>

#include <fmt/format.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>

namespace mqttpki::net {

bool CheckReport::ok() const {
  return !items.empty() && std::all_of(items.begin(), items.end(), [](const CheckItem& i) { return i.ok; });
}

std::size_t CheckReport::failures() const {
  return static_cast<std::size_t>(std::count_if(items.begin(), items.end(), [](const CheckItem& i) { return !i.ok; }));
}

namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::string random_suffix() {
  std::random_device rd;
  return fmt::format("{:08x}", rd());
}

std::string days_left_text(const pki::Certificate& cert, pki::TimePoint now) {
  long days = pki::days_between(now, cert.not_after());
  if (now > cert.not_after()) return fmt::format("expired on {}", pki::format_date(cert.not_after()));
  if (now < cert.not_before()) return fmt::format("not valid before {}", pki::format_time(cert.not_before()));
  return fmt::format("valid until {} ({} days left)", pki::format_date(cert.not_after()), days);
}

// Runs f; a thrown mqttpki::Error becomes a failed item instead of ending the whole check.
template <typename F>
void check(CheckReport& report, std::string what, F&& f) {
  CheckItem item{std::move(what), false, {}};
  try {
    auto [ok, detail] = f();
    item.ok = ok;
    item.detail = std::move(detail);
  } catch (const std::exception& e) {
    item.detail = e.what();
  }
  report.items.push_back(std::move(item));
}

struct Role {
  const char* name;  // "server" / "client"
  pki::Purpose purpose;
  const char* eku;  // "serverAuth" / "clientAuth"
};

// Loaded inputs; absent when the file did not parse (that failure is already in the report).
struct Loaded {
  std::vector<pki::Certificate> ca;
  std::optional<pki::Certificate> cert;
  std::optional<pki::PrivateKey> key;
};

void check_role(CheckReport& report, const SetupCheckOptions& o, const Role& role, const InputFile& cert_file,
                const InputFile& key_file, const std::vector<pki::Certificate>& ca, Loaded& out) {
  check(report, fmt::format("{} certificate {} is readable", role.name, cert_file.path), [&] {
    out.cert = pki::Certificate::load(pki::ByteView(cert_file.data));
    return std::pair{true, out.cert->subject().to_string()};
  });
  if (key_file.path.empty())
    report.skipped.push_back(fmt::format("{} key matches its certificate (no {} key given)", role.name, role.name));
  else
    check(report, fmt::format("{} key {} matches its certificate", role.name, key_file.path), [&] {
    out.key = pki::PrivateKey::load(pki::ByteView(key_file.data));
    if (!out.cert) return std::pair{false, std::string("no certificate to compare with")};
    bool match = out.key->matches(*out.cert);
    return std::pair{match, match ? out.key->type_name()
                                  : std::string("the key is not the one the certificate was issued for")};
  });
  if (!out.cert) return;
  const pki::Certificate& cert = *out.cert;
  check(report, fmt::format("{} certificate is within its validity", role.name), [&] {
    bool ok = o.now >= cert.not_before() && o.now <= cert.not_after();
    return std::pair{ok, days_left_text(cert, o.now)};
  });
  check(report, fmt::format("{} certificate has extendedKeyUsage {}", role.name, role.eku), [&] {
    auto eku = cert.extended_key_usage();
    bool ok = std::find(eku.begin(), eku.end(), role.eku) != eku.end();
    return std::pair{ok, eku.empty() ? std::string("no extendedKeyUsage extension") : join(eku)};
  });
  if (role.purpose == pki::Purpose::server) {
    check(report, fmt::format("server certificate's subjectAltName covers '{}'", o.host), [&] {
      pki::VerifyOptions v;
      v.purpose = pki::Purpose::any;
      v.now = cert.not_before() + std::chrono::seconds(1);  // name check only, validity is checked above
      v.host = o.host;
      std::vector<std::string> sans;
      for (const auto& n : cert.sans()) sans.push_back(n.to_string());
      if (ca.empty()) return std::pair{false, std::string("no CA to check against")};
      auto r = pki::verify_chain(ca, cert, v);
      bool name_ok = r.ok || (r.error != X509_V_ERR_HOSTNAME_MISMATCH &&
                              r.error != X509_V_ERR_IP_ADDRESS_MISMATCH);
      return std::pair{name_ok, fmt::format("SAN [{}]", join(sans))};
    });
  }
  check(report, fmt::format("{} certificate chains to {} for {}", role.name, o.ca.path, role.eku), [&] {
    if (ca.empty()) return std::pair{false, std::string("no CA certificate")};
    pki::VerifyOptions v;
    v.purpose = role.purpose;
    v.now = o.now;
    if (role.purpose == pki::Purpose::server) v.host = o.host;
    auto r = pki::verify_chain(ca, cert, v);
    return std::pair{r.ok, r.ok ? std::string("verified as a TLS peer would (X509 strict)") : r.reason};
  });
  check(report, fmt::format("{} certificate is not revoked", role.name), [&] {
    std::string serial = cert.serial_hex();
    if (std::find(o.revoked_serials.begin(), o.revoked_serials.end(), serial) != o.revoked_serials.end()) {
      return std::pair{false, fmt::format("serial {} is revoked in the CA's index", serial)};
    }
    if (o.crl) {
      pki::VerifyOptions v;
      v.purpose = pki::Purpose::any;
      v.now = o.now;
      v.crls.push_back(o.crl->data);
      auto r = pki::verify_chain(ca, cert, v);
      if (!r.ok && r.error == X509_V_ERR_CERT_REVOKED) {
        return std::pair{false, fmt::format("serial {} is in {}", serial, o.crl->path)};
      }
      return std::pair{true, fmt::format("serial {} not in {}", serial, o.crl->path)};
    }
    return std::pair{true, fmt::format("serial {} not revoked in the index (no CRL given)", serial)};
  });
}

void live_round_trip(CheckReport& report, const SetupCheckOptions& o) {
  std::mutex log_mutex;
  std::vector<std::string> log;
  BrokerOptions bo;
  ListenerConfig l;
  l.port = 0;
  l.address = "127.0.0.1";
  l.cafile = o.ca.path;
  l.certfile = o.server_cert.path;
  l.keyfile = o.server_key.path;
  if (o.crl) l.crlfile = o.crl->path;
  l.require_certificate = true;
  l.use_identity_as_username = true;
  bo.config.listeners.push_back(l);
  bo.config.source = "mqttpki verify";
  bo.log = [&](std::string_view line) {
    std::lock_guard lock(log_mutex);
    log.emplace_back(line);
  };

  std::unique_ptr<Broker> broker;
  std::uint16_t port = 0;
  check(report, "bundled broker starts with the server certificate and key", [&] {
    broker = std::make_unique<Broker>(std::move(bo));
    auto bound = broker->start();
    port = bound.at(0).port;
    return std::pair{true, fmt::format("listening on {} with require_certificate", bound.at(0).describe())};
  });
  if (!broker) return;
  std::thread loop([&] { broker->run(); });

  auto broker_reason = [&]() {
    std::lock_guard lock(log_mutex);
    for (auto it = log.rbegin(); it != log.rend(); ++it) {
      if (it->find("refused") != std::string::npos || it->find("fail") != std::string::npos) return "; broker: " + *it;
    }
    return std::string();
  };

  const std::string topic = "mqttpki/verify/" + random_suffix();
  check(report, fmt::format("client connects over mutual TLS to '{}' and the broker accepts it", o.host), [&] {
    ClientOptions co;
    co.host = "127.0.0.1";
    co.port = port;
    co.tls.enabled = true;
    co.tls.cafile = o.ca.path;
    co.tls.certfile = o.client_cert.path;
    co.tls.keyfile = o.client_key.path;
    co.tls.server_name = o.host;
    co.timeout = o.timeout;
    co.client_id = "mqttpki-verify-" + random_suffix();
    Client client(co);
    ConnectResult cr;
    try {
      cr = client.connect();
    } catch (const Error& e) {
      return std::pair{false, std::string(e.what()) + broker_reason()};
    }
    auto granted = client.subscribe({{topic, 1}});
    if (granted.empty() || granted[0] == 0x80) return std::pair{false, std::string("subscription refused")};
    client.publish(topic, std::string("mqttpki verify"), 1, false);
    auto msg = client.receive(o.timeout);
    client.disconnect();
    if (!msg || msg->payload_string() != "mqttpki verify") {
      return std::pair{false, std::string("published message did not come back within the timeout")};
    }
    return std::pair{true, fmt::format("{}; published and received one QoS 1 message", cr.tls_summary)};
  });

  broker->stop();
  loop.join();
}

}  // namespace

CheckReport check_setup(const SetupCheckOptions& o) {
  CheckReport report;
  std::vector<pki::Certificate> ca;
  check(report, fmt::format("CA certificate {} is a valid CA", o.ca.path), [&] {
    ca = pki::Certificate::load_chain(pki::ByteView(o.ca.data));
    const auto& root = ca.front();
    if (!root.is_ca()) return std::pair{false, std::string("not a CA certificate (no basicConstraints CA:TRUE)")};
    bool ok = o.now >= root.not_before() && o.now <= root.not_after();
    return std::pair{ok, fmt::format("{}, {}", root.subject().to_string(), days_left_text(root, o.now))};
  });
  Loaded server, client;
  check_role(report, o, {"server", pki::Purpose::server, "serverAuth"}, o.server_cert, o.server_key, ca, server);
  check_role(report, o, {"client", pki::Purpose::client, "clientAuth"}, o.client_cert, o.client_key, ca, client);
  if (!o.live || o.server_key.path.empty() || o.client_key.path.empty()) {
    report.skipped.push_back(o.live ? "live mutual-TLS round trip (needs both private keys)"
                                    : "live mutual-TLS round trip (static checks only)");
  } else {
    if (report.ok()) {
      live_round_trip(report, o);
    } else {
      report.items.push_back({"live mutual-TLS round trip through the bundled broker", false,
                              "skipped: fix the problems above first"});
    }
  }
  return report;
}

namespace {
// Publishes a unique payload to o.topic and waits for it on a subscription to the same topic.
ClientOptions remote_client_options(const RemoteCheckOptions& o, const std::string& certfile, const std::string& keyfile,
                                    const std::optional<std::string>& username,
                                    const std::optional<std::string>& password) {
  ClientOptions co;
  co.host = o.host;
  co.port = o.port;
  co.tls.enabled = true;
  co.tls.cafile = o.cafile;
  co.tls.certfile = certfile;
  co.tls.keyfile = keyfile;
  co.timeout = o.timeout;
  co.client_id = "mqttpki-verify-" + random_suffix();
  co.username = username;
  co.password = password;
  return co;
}

// Waits (bounded) for `payload` on o.topic; notes a retained message on it on the way.
bool wait_for_payload(Client& client, const RemoteCheckOptions& o, const std::string& payload, bool& retained_seen) {
  const auto deadline = std::chrono::steady_clock::now() + o.timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto msg = client.receive(std::max(left, std::chrono::milliseconds(1)));
    if (!msg) return false;
    if (msg->topic == o.topic && msg->retain) retained_seen = true;
    if (msg->topic == o.topic && msg->payload_string() == payload) return true;
  }
  return false;
}

// Publishes a unique payload to o.topic and waits for it on a subscription to the same topic (and on the
// reader's, when there is one).
void check_topic_access(CheckReport& report, Client& client, const RemoteCheckOptions& o) {
  const std::string payload = "mqttpki verify " + random_suffix();
  std::unique_ptr<Client> reader;
  if (o.reader) {
    const auto& r = *o.reader;
    reader = std::make_unique<Client>(remote_client_options(o, r.certfile, r.keyfile, r.username, r.password));
    check(report, fmt::format("the reader connects and subscribes to '{}'", o.topic), [&] {
      reader->connect();
      auto granted = reader->subscribe({{o.topic, 1}});
      return std::pair{!granted.empty() && granted[0] != 0x80, std::string()};
    });
  }
  check(report, fmt::format("subscribe to '{}'", o.topic), [&] {
    auto granted = client.subscribe({{o.topic, 1}});
    const bool ok = !granted.empty() && granted[0] != 0x80;
    return std::pair{ok, std::string(ok ? "granted (an ACL may still filter what is delivered)" : "refused")};
  });
  client.publish(o.topic, payload, 1, false);
  bool retained_seen = false;
  bool ignored = false;
  const bool to_reader = reader && reader->connected() && wait_for_payload(*reader, o, payload, ignored);
  const bool echoed = wait_for_payload(client, o, payload, retained_seen);
  const std::string read_detail = echoed          ? "our message came back"
                                  : retained_seen ? "a retained message on it was delivered"
                                                  : "nothing came back within the timeout";
  report.items.push_back({fmt::format("may read '{}'", o.topic), echoed || retained_seen, read_detail});
  std::string write_detail = to_reader ? "the reader received our message"
                             : echoed  ? "our message was delivered"
                                       : "the broker acknowledged it but delivered nothing";
  if (!to_reader && !echoed && !retained_seen && !reader)
    write_detail += " (refused to publish or to read: add a reader identity, --reader-cert/--reader-key, to tell which)";
  report.items.push_back({fmt::format("may publish to '{}'", o.topic), to_reader || echoed, write_detail});
  if (reader) reader->disconnect();
}
}  // namespace

CheckReport check_remote_broker(const RemoteCheckOptions& o) {
  CheckReport report;
  const std::string topic = "mqttpki/verify/" + random_suffix();
  ClientOptions co = remote_client_options(o, o.certfile, o.keyfile, o.username, o.password);
  if (!o.client_id.empty()) co.client_id = o.client_id;
  Client client(co);
  bool connected = false;
  check(report, fmt::format("TLS handshake with {}:{}, server certificate verified for '{}'", o.host, o.port, o.host),
        [&] {
          auto cr = client.connect();
          connected = true;
          return std::pair{true, fmt::format("{}; CONNECT accepted", cr.tls_summary)};
        });
  if (!connected) return report;
  if (!o.topic.empty()) {
    check_topic_access(report, client, o);
    client.disconnect();
    return report;
  }
  check(report, "subscribe, publish and receive one QoS 1 message", [&] {
    auto granted = client.subscribe({{topic, 1}});
    if (granted.empty() || granted[0] == 0x80) {
      return std::pair{false, fmt::format("broker refused the subscription to {} (ACL?)", topic)};
    }
    client.publish(topic, std::string("mqttpki verify"), 1, false);
    auto msg = client.receive(o.timeout);
    if (!msg) return std::pair{false, fmt::format("no message came back on {} within the timeout", topic)};
    return std::pair{true, fmt::format("round trip on {}", topic)};
  });
  client.disconnect();
  return report;
}

}  // namespace mqttpki::net
