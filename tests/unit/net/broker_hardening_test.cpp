// Broker and client defences from issue 13, in-process on 127.0.0.1:0: a retained burst larger than the
// write cap reaches a subscriber that reads; identities cannot take over each other's sessions; a listener
// block's max_connections; the client caps the packets (and the unread messages) it accepts from a broker;
// certificate names cannot forge log lines.

#include "fixture.hpp"

#include <mqttpki/mqtt/codec.hpp>

#include <asio.hpp>

#include <functional>
#include <set>

using namespace nettest;
using mqttpki::net::Client;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("a retained burst larger than the write cap reaches a subscriber that reads", "[broker][retained]") {
  // 100 retained messages of 250 KB: 25 MB, three times the 8 MiB per-connection write cap. Before pacing,
  // every SUBSCRIBE sensors/# was dropped with "more than 8388608 bytes waiting".
  RunningBroker b({tls_listener()});
  {
    Client pub(client_options(b.port()));
    pub.connect();
    for (int i = 0; i < 100; ++i) {
      std::vector<std::uint8_t> payload(250 * 1000, static_cast<std::uint8_t>(i));
      pub.publish("sensors/" + std::to_string(i), payload, 1, true);
    }
    pub.disconnect();
  }
  for (int qos = 0; qos <= 1; ++qos) {
    Client sub(client_options(b.port()));
    sub.connect();
    sub.subscribe({{"sensors/#", static_cast<std::uint8_t>(qos)}});
    std::set<std::string> topics;
    while (topics.size() < 100) {
      auto m = sub.receive(seconds(10));
      REQUIRE(m.has_value());
      CHECK(m->retain);
      CHECK(m->payload.size() == 250 * 1000);
      topics.insert(m->topic);
    }
    CHECK(topics.size() == 100);
    sub.ping();  // still connected
  }
  CHECK_FALSE(b.log.wait_for("bytes waiting", milliseconds(0)));
}

TEST_CASE("use_username_as_clientid: another certificate cannot resume sensor-1's session", "[broker][session]") {
  auto l = tls_listener();
  l.use_identity_as_username = true;
  auto opts = RunningBroker::make_options({l});
  opts.config.use_username_as_clientid = true;
  RunningBroker b(std::move(opts));
  auto as = [&](const std::string& cert_name) {
    auto o = client_options(b.port(), cert_name);
    o.client_id = "sensor-1";
    o.clean_session = false;
    return o;
  };
  {
    Client owner(as("client"));  // CN pi1
    owner.connect();
    owner.subscribe({{"cmd/sensor-1", 1}});
    owner.disconnect();
  }
  {
    Client pub(client_options(b.port(), "client2"));  // pi2 (a pi1 connection would replace pi1's session)
    pub.connect();
    pub.publish("cmd/sensor-1", "for pi1 only", 1);
  }
  Client thief(as("client2"));  // CN pi2, asking for the same client id
  CHECK_FALSE(thief.connect().session_present);
  CHECK_FALSE(thief.receive(milliseconds(300)).has_value());
  Client owner(as("client"));
  CHECK(owner.connect().session_present);
  auto m = owner.receive(seconds(5));
  REQUIRE(m.has_value());
  CHECK(m->payload_string() == "for pi1 only");
  CHECK(b.log.wait_for("client 'pi2' connected"));
  thief.ping();  // both stay connected: no takeover either
}

TEST_CASE("a listener block's max_connections limits that listener only", "[broker][limits]") {
  auto limited = tls_listener();
  limited.max_connections = 1;
  RunningBroker b({limited, tls_listener()});
  Client first(client_options(b.port(0)));
  first.connect();
  CHECK(connect_error(client_options(b.port(0))) != "connected");
  CHECK(b.log.wait_for("connections open on this listener (raise the max_connections of its listener block)"));
  CHECK(connect_error(client_options(b.port(1))) == "connected");
  first.ping();
}

namespace {

// A hostile "broker" on plain TCP: it reads the CONNECT, writes `reply` (a CONNACK and what follows), then
// reads until the client closes. The error the client's `act` throws, with `max_packet_size`.
std::string hostile_broker_error(const std::vector<std::uint8_t>& reply, std::size_t max_packet_size,
                                 const std::function<void(Client&)>& act) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::thread server([&] {
    asio::ip::tcp::socket s(io);
    acceptor.accept(s);
    std::array<std::uint8_t, 256> buf{};
    std::error_code ec;
    s.read_some(asio::buffer(buf), ec);       // CONNECT
    asio::write(s, asio::buffer(reply), ec);  // stops when the client closes
    s.read_some(asio::buffer(buf), ec);
  });
  mqttpki::net::ClientOptions o;
  o.host = "127.0.0.1";
  o.port = acceptor.local_endpoint().port();
  o.timeout = seconds(5);
  o.max_packet_size = max_packet_size;
  std::string error;
  {
    Client c(o);
    c.connect();
    try {
      act(c);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  server.join();
  return error;
}

}  // namespace

TEST_CASE("the client refuses a packet over its size limit before buffering it", "[client][limits]") {
  const std::vector<std::uint8_t> reply{0x20, 0x02, 0x00, 0x00,         // CONNACK accepted
                                        0x30, 0x80, 0x80, 0x80, 0x64};  // PUBLISH, remaining length 200 MiB
  const auto error = hostile_broker_error(reply, mqttpki::net::ClientOptions{}.max_packet_size,
                                          [](Client& c) { (void)c.receive(seconds(5)); });
  CHECK(error.find("sent a packet larger than this client's limit of 16777216 bytes") != std::string::npos);
}

TEST_CASE("the client bounds the messages that pile up while it waits for an acknowledgement", "[client][limits]") {
  // CONNACK, then 1 MiB PUBLISHes and never the PUBACK the client waits for.
  mqttpki::mqtt::Publish flood;
  flood.topic = "t";
  flood.payload.assign(1024 * 1024, 0x42);
  std::vector<std::uint8_t> reply{0x20, 0x02, 0x00, 0x00};
  for (int i = 0; i < 20; ++i) mqttpki::mqtt::encode_to(flood, reply);
  const auto error = hostile_broker_error(reply, 2 * 1024 * 1024, [](Client& c) { c.publish("x", "y", 1); });
  CHECK(error.find("sent more than 8388608 bytes of messages that were not read yet") != std::string::npos);
}

TEST_CASE("a certificate name with a newline cannot forge a broker log line", "[broker][log]") {
  // A client certificate from the test CA whose CN is "pi<newline>FAKE: admin connected" (openssl takes the CN
  // from the environment, so the newline reaches the certificate as is).
  const std::string dir = certs().string();
  const std::string cmd =
      "cd '" + dir + "' && printf '[req]\\ndistinguished_name=dn\\nprompt=no\\n[dn]\\nCN=$ENV::EVIL_CN\\n' > evil.cnf"
      " && EVIL_CN=\"$(printf 'pi\\nFAKE: admin connected')\" openssl req -new -newkey ec -pkeyopt"
      " ec_paramgen_curve:P-256 -nodes -keyout evil.key -out evil.csr -config evil.cnf >/dev/null 2>&1"
      " && openssl x509 -req -in evil.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out evil.crt"
      " >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto l = tls_listener();
  l.use_identity_as_username = true;
  RunningBroker b({l});
  {
    Client c(client_options(b.port(), "evil"));
    c.connect();
    c.ping();
  }
  CHECK(b.log.wait_for("CN=pi\\x0AFAKE: admin connected"));
  CHECK(b.log.wait_for("user 'pi\\x0AFAKE: admin connected'"));
  const std::string all = b.log.all();
  std::size_t start = 0;
  for (std::size_t nl = all.find('\n'); nl != std::string::npos; start = nl + 1, nl = all.find('\n', start))
    CHECK_FALSE(all.substr(start, nl - start).starts_with("FAKE"));  // each captured line is one log line
}

TEST_CASE("CRL trouble on the broker's side is named as such to the client", "[broker][refused]") {
  // OpenSSL answers an expired CRL with the "certificate expired" alert and a CRL from another CA with
  // "unknown CA": the client's message names both causes, the broker's log the real one.
  const std::string dir = certs().string();
  const std::string cmd =
      "cd '" + dir + "' && openssl ca -config ca.cnf -gencrl -crl_lastupdate 20200101000000Z -crl_nextupdate"
      " 20200201000000Z -out expired-crl.pem >/dev/null 2>&1 && openssl ca -config ca.cnf -gencrl -cert other-ca.crt -keyfile other-ca.key"
      " -out other-crl.pem >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  SECTION("an expired CRL") {
    auto l = tls_listener();
    l.crlfile = cert("expired-crl.pem");
    RunningBroker b({l});
    const std::string err = connect_error(client_options(b.port()));
    CHECK(err.find("if not, the broker's CRL is past its next update") != std::string::npos);
    CHECK(b.log.wait_for("is past its next update; regenerate it and reload the broker"));
  }
  SECTION("a CRL from another CA") {
    auto l = tls_listener();
    l.crlfile = cert("other-crl.pem");
    RunningBroker b({l});
    const std::string err = connect_error(client_options(b.port()));
    CHECK(err.find("or the broker's crlfile holds no CRL from our CA") != std::string::npos);
    CHECK(b.log.wait_for("no CRL from the issuer of client certificate 'pi1'"));
  }
}
