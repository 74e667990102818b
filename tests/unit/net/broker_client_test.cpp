// Broker and client in-process over mutual TLS on 127.0.0.1:0.

#include "fixture.hpp"

#include <mqttpki/error.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

using namespace nettest;
using mqttpki::net::Client;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void copy_file(const std::string& from, const fs::path& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

}  // namespace

TEST_CASE("mutual TLS connect is logged with peer, CN, TLS version and cipher", "[broker]") {
  RunningBroker b({tls_listener()});
  REQUIRE(b.bound.size() == 1);
  CHECK(b.bound[0].address == "127.0.0.1");
  CHECK(b.bound[0].port != 0);
  CHECK(b.bound[0].describe() == "127.0.0.1:" + std::to_string(b.port()) + " (tls)");
  Client c(client_options(b.port()));
  auto r = c.connect();
  CHECK(contains(r.tls_summary, "TLSv1."));
  CHECK(c.connected());
  c.ping();
  CHECK(b.log.wait_for("CN=pi1 TLSv1.3"));
  CHECK(b.log.wait_for("from 127.0.0.1:"));
  c.disconnect();
  CHECK_FALSE(c.connected());
}

TEST_CASE("publish and subscribe with QoS 0, 1 and 2", "[broker]") {
  RunningBroker b({tls_listener()});
  Client sub(client_options(b.port()));
  sub.connect();
  auto granted = sub.subscribe({{"sensors/#", 2}});
  REQUIRE(granted == std::vector<std::uint8_t>{2});
  Client pub(client_options(b.port()));
  pub.connect();
  for (std::uint8_t qos = 0; qos <= 2; ++qos) {
    std::string payload = "reading " + std::to_string(qos);
    pub.publish("sensors/pi1/temp", payload, qos);
    auto m = sub.receive(seconds(5));
    REQUIRE(m.has_value());
    CHECK(m->topic == "sensors/pi1/temp");
    CHECK(m->payload_string() == payload);
    CHECK(m->qos == qos);
    CHECK_FALSE(m->retain);
  }
  // a subscriber at QoS 1 gets QoS 2 publications downgraded
  Client sub1(client_options(b.port()));
  sub1.connect();
  REQUIRE(sub1.subscribe({{"sensors/+/temp", 1}}) == std::vector<std::uint8_t>{1});
  pub.publish("sensors/pi2/temp", "x", 2);
  auto m = sub1.receive(seconds(5));
  REQUIRE(m.has_value());
  CHECK(m->qos == 1);
  CHECK_FALSE(sub1.receive(milliseconds(200)).has_value());  // exactly one copy
}

TEST_CASE("retained messages reach later subscribers", "[broker]") {
  RunningBroker b({tls_listener()});
  {
    Client pub(client_options(b.port()));
    pub.connect();
    pub.publish("status/pi1", "online", 1, true);
    pub.disconnect();
  }
  Client sub(client_options(b.port()));
  sub.connect();
  sub.subscribe({{"status/#", 1}});
  auto m = sub.receive(seconds(5));
  REQUIRE(m.has_value());
  CHECK(m->topic == "status/pi1");
  CHECK(m->payload_string() == "online");
  CHECK(m->retain);
}

TEST_CASE("client certificate from another CA is refused, with the reason logged", "[broker][refused]") {
  RunningBroker b({tls_listener()});
  auto err = connect_error(client_options(b.port(), "other-client"));
  CHECK(contains(err, "broker refused our client certificate: unknown CA"));
  CHECK(b.log.wait_for("refused TLS handshake from 127.0.0.1:"));
  CHECK(b.log.wait_for("client certificate 'intruder' is not signed by " + cert("ca.crt")));
  CHECK(b.broker().counters().handshakes_refused == 1);
}

TEST_CASE("no client certificate is refused on require_certificate", "[broker][refused]") {
  RunningBroker b({tls_listener()});
  auto o = client_options(b.port());
  o.tls.certfile.clear();
  o.tls.keyfile.clear();
  auto err = connect_error(o);
  CHECK(contains(err, "requires a client certificate"));
  CHECK(b.log.wait_for("no client certificate presented (this listener has require_certificate true)"));
}

TEST_CASE("expired and revoked client certificates are refused", "[broker][refused]") {
  auto l = tls_listener();
  l.crlfile = cert("crl.pem");
  RunningBroker b({l});
  CHECK(connect_error(client_options(b.port())) == "connected");
  CHECK(contains(connect_error(client_options(b.port(), "expired")), "expired"));
  CHECK(b.log.wait_for("client certificate 'old' expired on 2020-01-02 00:00:00 UTC"));
  CHECK(contains(connect_error(client_options(b.port(), "client2")), "revoked"));
  CHECK(b.log.wait_for("client certificate 'pi2' (serial"));
  CHECK(b.log.wait_for("is revoked by " + cert("crl.pem")));
}

TEST_CASE("the client verifies the broker: wrong CA and host name mismatch", "[client][refused]") {
  SECTION("server certificate from another CA") {
    RunningBroker b({tls_listener()});
    auto o = client_options(b.port());
    o.tls.cafile = cert("other-ca.crt");
    CHECK(connect_error(o) == "server certificate 'localhost' is not signed by " + cert("other-ca.crt") +
                                  " (its issuer is 'mqttpki test CA'); pass --cafile with the CA that signed the "
                                  "broker's certificate");
  }
  SECTION("host name not in the SAN") {
    auto l = tls_listener();
    l.certfile = cert("wrongname.crt");
    l.keyfile = cert("wrongname.key");
    RunningBroker b({l});
    auto o = client_options(b.port());
    CHECK(contains(connect_error(o), "hostname 'localhost' not in SAN [DNS:broker.example]"));
    o.host = "127.0.0.1";
    CHECK(contains(connect_error(o), "IP address '127.0.0.1' not in SAN [DNS:broker.example]"));
    o.tls.insecure = true;  // the explicit opt-out
    CHECK(connect_error(o) == "connected");
  }
  SECTION("connecting by IP matches the IP SAN") {
    RunningBroker b({tls_listener()});
    auto o = client_options(b.port());
    o.host = "127.0.0.1";
    CHECK(connect_error(o) == "connected");
  }
}

TEST_CASE("plain listener: anonymous allowed on loopback, refused with CONNACK 5 when disallowed", "[broker]") {
  mqttpki::net::ListenerConfig plain;
  plain.port = 0;
  plain.address = "127.0.0.1";
  mqttpki::net::ClientOptions o;
  o.host = "127.0.0.1";
  o.timeout = seconds(5);
  SECTION("allowed by default on loopback") {
    RunningBroker b({plain});
    CHECK(b.bound[0].describe() == "127.0.0.1:" + std::to_string(b.port()) + " (plain)");
    o.port = b.port();
    Client c(o);
    auto r = c.connect();
    CHECK(r.tls_summary.empty());
    c.subscribe({{"a", 0}});
    c.publish("a", "b");
    auto m = c.receive(seconds(5));
    REQUIRE(m.has_value());
    CHECK(m->payload_string() == "b");
  }
  SECTION("explicitly disallowed") {
    auto opts = RunningBroker::make_options({plain});
    opts.config.allow_anonymous = false;
    RunningBroker b(std::move(opts));
    o.port = b.port();
    CHECK(connect_error(o) == "broker refused: not authorised (CONNACK 5)");
    CHECK(b.log.wait_for("refused: not authorised, no verified client certificate; set allow_anonymous true"));
  }
}

TEST_CASE("a silent client is dropped at the handshake deadline", "[broker][refused]") {
  auto opts = RunningBroker::make_options({tls_listener()});
  opts.handshake_timeout = milliseconds(200);
  RunningBroker b(std::move(opts));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(b.port());
  REQUIRE(inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr) == 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  CHECK(b.log.wait_for("no TLS handshake within 200 ms"));
  char byte = 0;
  CHECK(::recv(fd, &byte, 1, 0) <= 0);  // the broker closed it
  ::close(fd);
}

TEST_CASE("reload swaps TLS material for new connections and keeps connected clients", "[broker][reload]") {
  fs::path dir = certs() / "reload";
  fs::create_directories(dir);
  copy_file(cert("server.crt"), dir / "server.crt");
  copy_file(cert("server.key"), dir / "server.key");
  auto l = tls_listener();
  l.certfile = (dir / "server.crt").string();
  l.keyfile = (dir / "server.key").string();
  RunningBroker b({l});

  Client old_client(client_options(b.port()));
  old_client.connect();
  old_client.subscribe({{"news", 1}});

  // the broker now presents a certificate from the other CA
  copy_file(cert("other-server.crt"), dir / "server.crt");
  copy_file(cert("other-server.key"), dir / "server.key");
  b.broker().reload();
  CHECK(b.broker().counters().reloads == 1);
  CHECK(contains(connect_error(client_options(b.port())), "is not signed by"));
  auto o = client_options(b.port());
  o.tls.cafile = cert("other-ca.crt");
  Client new_client(o);
  new_client.connect();
  new_client.publish("news", "after reload", 1);
  auto m = old_client.receive(seconds(5));
  REQUIRE(m.has_value());
  CHECK(m->payload_string() == "after reload");

  // a failed reload keeps the previous material
  std::ofstream(dir / "server.key") << "not a key\n";
  CHECK_THROWS_WITH(b.broker().reload(), Catch::Contains("keyfile " + (dir / "server.key").string()));
  CHECK(b.broker().counters().reloads == 1);
  CHECK(connect_error(o) == "connected");
  old_client.ping();
}

TEST_CASE("start() reports a port in use and unreadable files clearly", "[broker]") {
  RunningBroker first({tls_listener()});
  auto l = tls_listener();
  l.port = first.port();
  mqttpki::net::Broker second(RunningBroker::make_options({l}));
  CHECK_THROWS_WITH(second.start(), Catch::Contains("cannot listen on 127.0.0.1:" + std::to_string(first.port())));
  auto bad = tls_listener();
  bad.keyfile = cert("client.key");
  mqttpki::net::Broker third(RunningBroker::make_options({bad}));
  CHECK_THROWS_WITH(third.start(), Catch::Contains("does not match certfile"));
}

TEST_CASE("max connections: further connections are refused and logged", "[broker][limits]") {
  auto opts = RunningBroker::make_options({tls_listener()});
  opts.config.max_connections = 1;
  RunningBroker b(std::move(opts));
  Client first(client_options(b.port()));
  first.connect();
  auto err = connect_error(client_options(b.port()));
  CHECK(err != "connected");
  CHECK(b.log.wait_for("connections open (raise max_connections)"));
  first.ping();  // the first one is unaffected
}

TEST_CASE("a subscriber that stops reading is dropped at the write-queue cap", "[broker][limits]") {
  auto opts = RunningBroker::make_options({tls_listener()});
  opts.write_queue_limit = 256 * 1024;
  RunningBroker b(std::move(opts));
  Client slow(client_options(b.port()));
  slow.connect();
  slow.subscribe({{"flood", 0}});
  Client pub(client_options(b.port()));
  pub.connect();
  std::vector<std::uint8_t> big(200 * 1024, 0x55);
  // Socket buffers absorb some megabytes before the broker's queue grows; keep publishing (bounded)
  // until the broker reports the drop.
  bool dropped = false;
  for (int i = 0; i < 400 && !dropped; ++i) {
    pub.publish("flood", big, 0);
    if (i % 10 == 9) {
      pub.ping();  // the broker has handled everything sent so far
      dropped = b.log.wait_for("dropped, more than 262144 bytes waiting", milliseconds(0));
    }
  }
  CHECK(dropped);
  pub.ping();  // the publisher is unaffected
}

TEST_CASE("stopping the broker ends connected clients' sessions; the client reports the loss", "[broker]") {
  auto b = std::make_unique<RunningBroker>(std::vector<mqttpki::net::ListenerConfig>{tls_listener()});
  Client c(client_options(b->port()));
  c.connect();
  c.subscribe({{"x", 1}});
  b.reset();  // stop() and join with the client still connected
  CHECK_THROWS_WITH(c.receive(seconds(5)), Catch::Contains("lost: the broker closed the connection"));
  CHECK_FALSE(c.connected());
}

TEST_CASE("persistent session: QoS 1 messages queued while away arrive on reconnect", "[broker][session]") {
  RunningBroker b({tls_listener()});
  auto o = client_options(b.port());
  o.client_id = "pi1-persistent";
  o.clean_session = false;
  {
    Client c(o);
    CHECK_FALSE(c.connect().session_present);
    c.subscribe({{"cmd/pi1", 1}});
    c.disconnect();
  }
  Client pub(client_options(b.port()));
  pub.connect();
  pub.publish("cmd/pi1", "reboot", 1);
  Client c(o);
  CHECK(c.connect().session_present);
  auto m = c.receive(seconds(5));
  REQUIRE(m.has_value());
  CHECK(m->payload_string() == "reboot");
  CHECK(m->qos == 1);
}

TEST_CASE("max_queued_messages from the config caps what waits for an absent client", "[broker][session][config]") {
  auto opts = RunningBroker::make_options({tls_listener()});
  opts.config = mqttpki::net::parse_mosquitto_config("max_queued_messages 3\n", "cap.conf");
  opts.config.listeners = {tls_listener()};
  RunningBroker b(std::move(opts));
  auto o = client_options(b.port());
  o.client_id = "pi1-capped";
  o.clean_session = false;
  {
    Client c(o);
    c.connect();
    c.subscribe({{"cmd/pi1", 1}});
    c.disconnect();
  }
  Client pub(client_options(b.port()));
  pub.connect();
  for (int i = 0; i < 5; ++i) pub.publish("cmd/pi1", "m" + std::to_string(i), 1);
  CHECK(b.log.wait_for("queue full (max_queued_messages=3)"));
  Client c(o);
  CHECK(c.connect().session_present);
  for (int i = 0; i < 3; ++i) {
    auto m = c.receive(seconds(5));
    REQUIRE(m.has_value());
    CHECK(m->payload_string() == "m" + std::to_string(i));  // the first three, in order
  }
  CHECK_FALSE(c.receive(std::chrono::milliseconds(300)).has_value());
}

TEST_CASE("the client's keep-alive pings keep an idle connection open", "[client][keepalive]") {
  RunningBroker b({tls_listener()});
  auto o = client_options(b.port());
  o.keepalive = 1;  // the broker drops a silent client after 1.5 s
  Client c(o);
  c.connect();
  CHECK_FALSE(c.receive(milliseconds(3200)).has_value());
  CHECK(c.connected());
  c.ping();
}
