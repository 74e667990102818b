// BrokerCore scenarios with a fake output and a fake clock (no sockets, no sleeps).
#include <mqttpki/mqtt/broker_core.hpp>
#include <mqttpki/mqtt/codec.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace mqttpki::mqtt;
using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr QoS Q0 = QoS::at_most_once;
constexpr QoS Q1 = QoS::at_least_once;
constexpr QoS Q2 = QoS::exactly_once;

Bytes b(const std::string& s) { return {s.begin(), s.end()}; }

// Decodes what the core sends, per connection, as a client would.
struct FakeOutput final : BrokerOutput {
  std::map<ConnectionId, FrameReader> readers;
  std::map<ConnectionId, std::vector<Packet>> received;
  std::map<ConnectionId, std::string> closed;
  std::vector<std::string> logs;
  // With `hold`, sent bytes count as a write backlog until the test drains it (pacing tests).
  bool hold = false;
  std::map<ConnectionId, std::size_t> unsent;

  void send(ConnectionId id, std::vector<std::uint8_t> bytes) override {
    REQUIRE_FALSE(closed.count(id));  // nothing is sent after close
    if (hold) unsent[id] += bytes.size();
    auto& r = readers[id];
    r.feed(bytes);
    while (true) {
      auto next = r.next();
      REQUIRE(next.has_value());
      if (!next.value()) break;
      received[id].push_back(std::move(*next.value()));
    }
  }
  void close(ConnectionId id, std::string_view reason) override { closed[id] = std::string(reason); }
  void log(std::string_view line) override { logs.emplace_back(line); }
  std::size_t backlog(ConnectionId id) const override {
    auto it = unsent.find(id);
    return it == unsent.end() ? 0 : it->second;
  }

  std::vector<Packet> take(ConnectionId id) {
    auto v = std::move(received[id]);
    received[id].clear();
    return v;
  }
  bool logged(std::string_view needle) const {
    for (const auto& l : logs) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }
};

ConnectionInfo with_certificate(std::string cn = "device") {
  ConnectionInfo info;
  info.peer = "127.0.0.1:50000";
  info.listener = "tls:8883";
  info.certificate_cn = cn;
  info.certificate_authenticated = true;
  return info;
}

struct Harness {
  FakeOutput out;
  BrokerCore core;
  Clock::time_point now{};
  ConnectionId next_id = 1;

  explicit Harness(BrokerLimits limits = {}) : core(limits, out) {}

  ConnectionId open(ConnectionInfo info = with_certificate()) {
    const ConnectionId id = next_id++;
    core.on_open(id, std::move(info), now);
    return id;
  }
  void send(ConnectionId id, const Packet& p) {
    const Bytes bytes = encode(p);
    core.on_bytes(id, bytes, now);
  }
  void raw(ConnectionId id, const Bytes& bytes) { core.on_bytes(id, bytes, now); }
  bool is_closed(ConnectionId id) const { return out.closed.count(id) > 0; }

  // The CONNACK, which must come first; what follows it (resent messages) stays for the caller.
  ConnAck connack(ConnectionId id) {
    auto got = out.take(id);
    REQUIRE(!got.empty());
    REQUIRE(std::holds_alternative<ConnAck>(got[0]));
    const ConnAck ack = std::get<ConnAck>(got[0]);
    got.erase(got.begin());
    out.received[id] = std::move(got);
    return ack;
  }

  ConnectionId connect(const std::string& client_id, bool clean = true, std::uint16_t keep_alive = 60,
                       std::optional<Will> will = std::nullopt, bool expect_present = false) {
    const ConnectionId id = open();
    Connect c;
    c.client_id = client_id;
    c.clean_session = clean;
    c.keep_alive = keep_alive;
    c.will = std::move(will);
    send(id, c);
    const ConnAck ack = connack(id);
    REQUIRE(ack.return_code == ConnectReturnCode::accepted);
    REQUIRE(ack.session_present == expect_present);
    return id;
  }

  void subscribe(ConnectionId id, const std::string& filter, QoS qos, std::uint16_t packet_id = 1) {
    send(id, Subscribe{packet_id, {{filter, qos}}});
    auto got = out.take(id);
    REQUIRE(!got.empty());
    REQUIRE(got[0] == Packet{SubAck{packet_id, {static_cast<std::uint8_t>(qos)}}});
    // retained messages, if any, stay for the caller
    got.erase(got.begin());
    out.received[id] = std::move(got);
  }

  void publish(ConnectionId id, const std::string& topic, const std::string& payload, QoS qos = Q0,
               bool retain = false, std::uint16_t packet_id = 0) {
    send(id, Publish{false, qos, retain, topic, packet_id, b(payload)});
  }

  void tick(std::chrono::milliseconds d) {
    now += d;
    core.on_tick(now);
  }
};

Publish as_publish(const Packet& p) {
  REQUIRE(std::holds_alternative<Publish>(p));
  return std::get<Publish>(p);
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// CONNECT / CONNACK

TEST_CASE("core: CONNECT is accepted with CONNACK 0", "[core][connect]") {
  Harness h;
  const auto id = h.connect("dev1");
  CHECK_FALSE(h.is_closed(id));
  CHECK(h.core.stats().connections == 1);
  CHECK(h.core.stats().sessions == 1);
  CHECK(h.out.logged("client 'dev1' connected"));
}

TEST_CASE("core: protocol level other than 4 gets CONNACK 1 and is closed", "[core][connect]") {
  Harness h;
  const auto id = h.open();
  h.raw(id, {0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 3, 2, 0, 0, 0, 0});
  CHECK(h.connack(id) == ConnAck{false, ConnectReturnCode::unacceptable_protocol_version});
  CHECK(h.is_closed(id));
  CHECK(h.core.stats().connections == 0);
}

TEST_CASE("core: identifier rejected gets CONNACK 2", "[core][connect]") {
  Harness h;
  SECTION("empty client id with clean_session=0") {
    const auto id = h.open();
    Connect c;
    c.clean_session = false;
    h.send(id, c);
    CHECK(h.connack(id) == ConnAck{false, ConnectReturnCode::identifier_rejected});
    CHECK(h.is_closed(id));
  }
  SECTION("client id with control characters") {
    const auto id = h.open();
    Connect c;
    c.client_id = "bad\x01id";
    h.send(id, c);
    CHECK(h.connack(id).return_code == ConnectReturnCode::identifier_rejected);
    CHECK(h.is_closed(id));
  }
  SECTION("empty client id with clean_session=1 gets an assigned id") {
    const auto a = h.connect("");
    const auto c = h.connect("");
    CHECK_FALSE(h.is_closed(a));
    CHECK_FALSE(h.is_closed(c));
    CHECK(h.core.stats().sessions == 2);
  }
}

TEST_CASE("core: connection limit gets CONNACK 3, takeover still allowed", "[core][connect]") {
  BrokerLimits limits;
  limits.max_connections = 1;
  Harness h(limits);
  const auto first = h.connect("a");
  const auto second = h.open();
  Connect c;
  c.client_id = "b";
  h.send(second, c);
  CHECK(h.connack(second) == ConnAck{false, ConnectReturnCode::server_unavailable});
  CHECK(h.is_closed(second));
  CHECK(h.out.logged("max_connections=1"));
  // The same client id replaces its own connection: not refused.
  h.connect("a");
  CHECK(h.is_closed(first));
}

TEST_CASE("core: no certificate and no anonymous access gets CONNACK 5 and a directive", "[core][connect]") {
  Harness h;
  ConnectionInfo info;
  info.peer = "10.0.0.9:4444";
  info.listener = "tls:8883";
  const auto id = h.open(info);
  Connect c;
  c.client_id = "anon";
  h.send(id, c);
  CHECK(h.connack(id) == ConnAck{false, ConnectReturnCode::not_authorized});
  CHECK(h.is_closed(id));
  CHECK(h.out.logged("set allow_anonymous true on this listener or give the client a certificate"));

  info.anonymous_allowed = true;
  const auto ok = h.open(info);
  h.send(ok, c);
  CHECK(h.connack(ok).return_code == ConnectReturnCode::accepted);
}

TEST_CASE("core: identity_username replaces the CONNECT user name", "[core][connect]") {
  Harness h;
  auto info = with_certificate("sensor-7");
  info.identity_username = "sensor-7";
  const auto id = h.open(info);
  Connect c;
  c.client_id = "x";
  c.username = "claimed";
  c.password = b("hunter2");
  h.send(id, c);
  CHECK(h.connack(id).return_code == ConnectReturnCode::accepted);
  CHECK(h.out.logged("user 'sensor-7'"));
  CHECK_FALSE(h.out.logged("claimed"));
  CHECK_FALSE(h.out.logged("hunter2"));
}

TEST_CASE("core: session present flag", "[core][connect]") {
  Harness h;
  auto id = h.connect("p", false);
  h.subscribe(id, "t", Q1);
  h.send(id, Disconnect{});
  CHECK(h.is_closed(id));
  CHECK(h.core.stats().sessions == 1);  // persistent session kept
  CHECK(h.core.stats().subscriptions == 1);
  id = h.connect("p", false, 60, std::nullopt, /*expect_present=*/true);
  h.send(id, Disconnect{});
  // A clean start discards the session and its subscriptions.
  h.connect("p", true, 60, std::nullopt, false);
  CHECK(h.core.stats().subscriptions == 0);
}

TEST_CASE("core: clean session is discarded when the client goes", "[core][connect]") {
  Harness h;
  const auto id = h.connect("c", true);
  h.subscribe(id, "t", Q0);
  h.core.on_close(id, h.now);
  CHECK(h.core.stats().sessions == 0);
  CHECK(h.core.stats().subscriptions == 0);
  CHECK(h.core.stats().connections == 0);
}

TEST_CASE("core: the first packet must be CONNECT", "[core][connect]") {
  Harness h;
  const auto id = h.open();
  h.send(id, PingReq{});
  CHECK(h.is_closed(id));
  CHECK(h.out.take(id).empty());
  CHECK(h.out.closed[id].find("not CONNECT") != std::string::npos);
}

TEST_CASE("core: a second CONNECT is a protocol violation", "[core][connect]") {
  Harness h;
  const auto id = h.connect("twice");
  Connect c;
  c.client_id = "twice";
  h.send(id, c);
  CHECK(h.is_closed(id));
  CHECK(h.out.take(id).empty());
}

TEST_CASE("core: packets a server never receives close the connection", "[core][connect]") {
  Harness h;
  const auto id = h.connect("x");
  h.send(id, ConnAck{});
  CHECK(h.is_closed(id));
}

TEST_CASE("core: PINGREQ gets PINGRESP", "[core]") {
  Harness h;
  const auto id = h.connect("ping");
  h.send(id, PingReq{});
  CHECK(h.out.take(id) == std::vector<Packet>{PingResp{}});
}

TEST_CASE("core: bytes split at any point still make packets", "[core]") {
  Harness h;
  const auto id = h.open();
  Connect c;
  c.client_id = "slow";
  Bytes stream = encode(c);
  encode_to(Subscribe{3, {{"a/#", Q1}}}, stream);
  encode_to(PingReq{}, stream);
  for (auto byte : stream) h.core.on_bytes(id, std::span(&byte, 1), h.now);
  CHECK(h.out.take(id) == std::vector<Packet>{ConnAck{}, SubAck{3, {1}}, PingResp{}});
}

// -----------------------------------------------------------------------------------------------
// Publish / subscribe

TEST_CASE("core: QoS 0 publish reaches subscribers with retain cleared", "[core][pubsub]") {
  Harness h;
  const auto sub = h.connect("sub");
  const auto pub = h.connect("pub");
  h.subscribe(sub, "room/+/temp", Q0);
  h.publish(pub, "room/1/temp", "21.5", Q0, /*retain=*/true);
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  CHECK(got[0] == Packet{Publish{false, Q0, false, "room/1/temp", 0, b("21.5")}});
  CHECK(h.out.take(pub).empty());
  h.publish(pub, "room/1/humidity", "40");
  CHECK(h.out.take(sub).empty());
  CHECK(h.core.stats().messages_in == 2);
  CHECK(h.core.stats().messages_out == 1);
}

TEST_CASE("core: QoS 1 both directions", "[core][pubsub]") {
  Harness h;
  const auto sub = h.connect("sub", false);
  const auto pub = h.connect("pub");
  h.subscribe(sub, "q1", Q1);
  h.publish(pub, "q1", "m", Q1, false, 77);
  CHECK(h.out.take(pub) == std::vector<Packet>{PubAck{77}});
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  const auto p = as_publish(got[0]);
  CHECK(p.qos == Q1);
  CHECK(p.packet_id != 0);
  CHECK_FALSE(p.dup);
  h.send(sub, PubAck{p.packet_id});
  // Acknowledged: nothing is resent after a reconnect.
  h.core.on_close(sub, h.now);
  const auto again = h.connect("sub", false, 60, std::nullopt, true);
  CHECK(h.out.take(again).empty());
}

TEST_CASE("core: QoS 2 incoming is delivered exactly once", "[core][pubsub]") {
  Harness h;
  const auto sub = h.connect("sub");
  const auto pub = h.connect("pub");
  h.subscribe(sub, "q2", Q2);
  h.publish(pub, "q2", "once", Q2, false, 5);
  CHECK(h.out.take(pub) == std::vector<Packet>{PubRec{5}});
  // The publisher resends (e.g. it missed the PUBREC): acknowledged again, not delivered again.
  h.send(pub, Publish{true, Q2, false, "q2", 5, b("once")});
  CHECK(h.out.take(pub) == std::vector<Packet>{PubRec{5}});
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).payload == b("once"));
  h.send(pub, PubRel{5});
  CHECK(h.out.take(pub) == std::vector<Packet>{PubComp{5}});
  // After PUBREL the id is free: the same id is a new message.
  h.publish(pub, "q2", "twice", Q2, false, 5);
  CHECK(h.out.take(sub).size() == 1);
}

TEST_CASE("core: QoS 2 outgoing PUBREC -> PUBREL -> PUBCOMP", "[core][pubsub]") {
  Harness h;
  const auto sub = h.connect("sub", false);
  const auto pub = h.connect("pub");
  h.subscribe(sub, "q2", Q2);
  h.publish(pub, "q2", "x", Q2, false, 1);
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  const auto id = as_publish(got[0]).packet_id;
  CHECK(as_publish(got[0]).qos == Q2);
  h.send(sub, PubRec{id});
  CHECK(h.out.take(sub) == std::vector<Packet>{PubRel{id}});
  h.send(sub, PubComp{id});
  CHECK(h.out.take(sub).empty());
  h.core.on_close(sub, h.now);
  const auto again = h.connect("sub", false, 60, std::nullopt, true);
  CHECK(h.out.take(again).empty());  // completed: nothing to resend
}

TEST_CASE("core: QoS is downgraded to the subscription's", "[core][pubsub]") {
  Harness h;
  const auto s0 = h.connect("s0");
  const auto s1 = h.connect("s1");
  const auto pub = h.connect("pub");
  h.subscribe(s0, "t", Q0);
  h.subscribe(s1, "t", Q1);
  h.publish(pub, "t", "hi", Q2, false, 9);
  auto g0 = h.out.take(s0);
  auto g1 = h.out.take(s1);
  REQUIRE(g0.size() == 1);
  REQUIRE(g1.size() == 1);
  CHECK(as_publish(g0[0]).qos == Q0);
  CHECK(as_publish(g1[0]).qos == Q1);
  h.publish(pub, "t", "lo", Q0);
  CHECK(as_publish(h.out.take(s1).at(0)).qos == Q0);  // never upgraded
}

TEST_CASE("core: overlapping subscriptions deliver once at the highest QoS", "[core][pubsub]") {
  Harness h;
  const auto sub = h.connect("sub");
  const auto pub = h.connect("pub");
  h.subscribe(sub, "a/#", Q0, 1);
  h.subscribe(sub, "a/+", Q1, 2);
  h.subscribe(sub, "a/b", Q0, 3);
  h.publish(pub, "a/b", "x", Q1, false, 1);
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).qos == Q1);
}

TEST_CASE("core: unsubscribe stops delivery, $SYS is not matched by #", "[core][pubsub]") {
  Harness h;
  const auto sub = h.connect("sub");
  const auto pub = h.connect("pub");
  h.subscribe(sub, "#", Q0);
  h.publish(pub, "$SYS/x", "1");
  CHECK(h.out.take(sub).empty());
  h.publish(pub, "x", "1");
  CHECK(h.out.take(sub).size() == 1);
  h.send(sub, Unsubscribe{4, {"#"}});
  CHECK(h.out.take(sub) == std::vector<Packet>{UnsubAck{4}});
  h.publish(pub, "x", "2");
  CHECK(h.out.take(sub).empty());
  CHECK(h.core.stats().subscriptions == 0);
}

TEST_CASE("core: a publisher subscribed to its own topic gets its message", "[core][pubsub]") {
  Harness h;
  const auto c = h.connect("self");
  h.subscribe(c, "echo", Q1);
  h.publish(c, "echo", "x", Q1, false, 3);
  auto got = h.out.take(c);
  REQUIRE(got.size() == 2);
  CHECK(std::holds_alternative<Publish>(got[0]));
  CHECK(got[1] == Packet{PubAck{3}});
}

// -----------------------------------------------------------------------------------------------
// Persistent sessions, takeover, wills

TEST_CASE("core: persistent session queues while offline and resends in-flight with DUP", "[core][session]") {
  Harness h;
  auto sub = h.connect("sub", false);
  const auto pub = h.connect("pub");
  h.subscribe(sub, "s/#", Q2);
  h.publish(pub, "s/1", "one", Q1, false, 1);   // in flight, never acknowledged
  h.publish(pub, "s/2", "two", Q2, false, 2);   // in flight, PUBREC'd: awaiting PUBCOMP
  auto first = h.out.take(sub);
  REQUIRE(first.size() == 2);
  const auto id1 = as_publish(first[0]).packet_id;
  const auto id2 = as_publish(first[1]).packet_id;
  h.send(sub, PubRec{id2});
  CHECK(h.out.take(sub) == std::vector<Packet>{PubRel{id2}});
  h.core.on_close(sub, h.now);  // connection lost
  CHECK(h.core.stats().sessions == 2);

  h.publish(pub, "s/3", "three", Q1, false, 3);  // queued
  h.publish(pub, "s/4", "four", Q0);             // QoS 0 is not queued for an offline client

  sub = h.connect("sub", false, 60, std::nullopt, /*expect_present=*/true);
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 3);
  const auto resent = as_publish(got[0]);
  CHECK(resent.dup);
  CHECK(resent.packet_id == id1);
  CHECK(resent.topic == "s/1");
  CHECK(resent.payload == b("one"));
  CHECK(got[1] == Packet{PubRel{id2}});
  const auto queued = as_publish(got[2]);
  CHECK_FALSE(queued.dup);
  CHECK(queued.topic == "s/3");
  CHECK(queued.qos == Q1);
  CHECK(queued.packet_id != id1);
  CHECK(queued.packet_id != id2);
}

TEST_CASE("core: max_inflight holds further messages until acknowledged", "[core][session]") {
  BrokerLimits limits;
  limits.max_inflight = 1;
  Harness h(limits);
  const auto sub = h.connect("sub");
  const auto pub = h.connect("pub");
  h.subscribe(sub, "t", Q1);
  h.publish(pub, "t", "1", Q1, false, 1);
  h.publish(pub, "t", "2", Q1, false, 2);
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  h.send(sub, PubAck{as_publish(got[0]).packet_id});
  got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).payload == b("2"));
}

TEST_CASE("core: a second connection with the same client id takes the session over", "[core][session]") {
  Harness h;
  const auto watcher = h.connect("watcher");
  h.subscribe(watcher, "wills/#", Q0);
  const auto old = h.connect("dev", false, 60, Will{"wills/dev", b("gone"), Q0, false});
  h.subscribe(old, "cmd", Q1);
  const auto fresh = h.connect("dev", false, 60, std::nullopt, /*expect_present=*/true);
  CHECK(h.is_closed(old));
  CHECK(h.out.closed[old].find("taken over") != std::string::npos);
  CHECK_FALSE(h.is_closed(fresh));
  // The old connection ended without DISCONNECT: its will is published.
  CHECK(h.out.take(watcher).size() == 1);
  // The subscription carried over to the new connection.
  const auto pub = h.connect("pub");
  h.publish(pub, "cmd", "go", Q1, false, 1);
  CHECK(h.out.take(fresh).size() == 1);
  CHECK(h.core.stats().connections == 3);
}

TEST_CASE("core: will is published on abnormal close, not after DISCONNECT", "[core][will]") {
  Harness h;
  const auto watcher = h.connect("watcher");
  h.subscribe(watcher, "status/#", Q1);
  SECTION("network drop publishes the will") {
    const auto dev = h.connect("dev", true, 60, Will{"status/dev", b("offline"), Q1, false});
    h.core.on_close(dev, h.now);
    auto got = h.out.take(watcher);
    REQUIRE(got.size() == 1);
    CHECK(as_publish(got[0]).topic == "status/dev");
    CHECK(as_publish(got[0]).payload == b("offline"));
  }
  SECTION("malformed packet publishes the will") {
    const auto dev = h.connect("dev", true, 60, Will{"status/dev", b("offline"), Q0, false});
    h.raw(dev, {0x40, 0x02, 0x00, 0x00});  // PUBACK id 0
    CHECK(h.is_closed(dev));
    CHECK(h.out.take(watcher).size() == 1);
  }
  SECTION("DISCONNECT discards the will") {
    const auto dev = h.connect("dev", true, 60, Will{"status/dev", b("offline"), Q1, false});
    h.send(dev, Disconnect{});
    CHECK(h.is_closed(dev));
    CHECK(h.out.take(watcher).empty());
    h.core.on_close(dev, h.now);  // harmless after the core closed it
    CHECK(h.out.take(watcher).empty());
  }
}

TEST_CASE("core: will with retain is stored as a retained message", "[core][will]") {
  Harness h;
  const auto dev = h.connect("dev", true, 60, Will{"status/dev", b("offline"), Q1, true});
  h.core.on_close(dev, h.now);
  CHECK(h.core.stats().retained == 1);
  const auto later = h.connect("later");
  h.subscribe(later, "status/+", Q1);
  auto got = h.out.take(later);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).retain);
  CHECK(as_publish(got[0]).payload == b("offline"));
}

// -----------------------------------------------------------------------------------------------
// Timers

TEST_CASE("core: keep-alive closes after 1.5 times the client's value", "[core][timer]") {
  Harness h;
  const auto watcher = h.connect("watcher", true, 0);
  h.subscribe(watcher, "w", Q0);
  const auto dev = h.connect("dev", true, 10, Will{"w", b("timeout"), Q0, false});
  h.tick(14'999ms);
  CHECK_FALSE(h.is_closed(dev));
  h.send(dev, PingReq{});  // activity restarts the timer
  h.tick(14'999ms);
  CHECK_FALSE(h.is_closed(dev));
  h.tick(1ms);
  CHECK(h.is_closed(dev));
  CHECK(h.out.closed[dev].find("keep-alive") != std::string::npos);
  CHECK(h.out.take(watcher).size() == 1);  // the will went out
  // keep_alive 0 disables the check.
  h.tick(std::chrono::hours(24));
  CHECK_FALSE(h.is_closed(watcher));
}

TEST_CASE("core: a connection that never sends CONNECT is closed at the connect timeout", "[core][timer]") {
  BrokerLimits limits;
  limits.connect_timeout = 10s;
  Harness h(limits);
  const auto id = h.open();
  h.tick(9'999ms);
  CHECK_FALSE(h.is_closed(id));
  h.tick(1ms);
  CHECK(h.is_closed(id));
  CHECK(h.core.stats().connections == 0);
}

// -----------------------------------------------------------------------------------------------
// Retained messages

TEST_CASE("core: retained messages are set, replaced and cleared", "[core][retained]") {
  Harness h;
  const auto pub = h.connect("pub");
  const auto live = h.connect("live");
  h.subscribe(live, "r/#", Q0);
  h.publish(pub, "r/a", "v1", Q1, /*retain=*/true, 1);
  // Live subscribers get it as a normal message: retain cleared.
  CHECK_FALSE(as_publish(h.out.take(live).at(0)).retain);
  CHECK(h.core.stats().retained == 1);

  auto s1 = h.connect("s1");
  h.subscribe(s1, "r/+", Q1);
  auto got = h.out.take(s1);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).retain);
  CHECK(as_publish(got[0]).qos == Q1);
  CHECK(as_publish(got[0]).payload == b("v1"));

  h.publish(pub, "r/a", "v2", Q0, true);  // replace
  h.out.take(live);
  h.out.take(s1);
  const auto s2 = h.connect("s2");
  h.subscribe(s2, "r/a", Q1);
  got = h.out.take(s2);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).payload == b("v2"));
  CHECK(as_publish(got[0]).qos == Q0);  // stored at the QoS it was published with

  h.publish(pub, "r/a", "", Q0, true);  // clear
  CHECK(h.core.stats().retained == 0);
  CHECK(h.out.take(live).size() == 1);  // the empty message itself is still forwarded
  const auto s3 = h.connect("s3");
  h.subscribe(s3, "r/#", Q0);
  CHECK(h.out.take(s3).empty());
}

// -----------------------------------------------------------------------------------------------
// Limits and bad input

TEST_CASE("core: max_queued_messages refuses further QoS 1/2 messages with a log line", "[core][limits]") {
  BrokerLimits limits;
  limits.max_queued_messages = 2;
  Harness h(limits);
  auto sub = h.connect("sub", false);
  h.subscribe(sub, "t", Q1);
  h.core.on_close(sub, h.now);
  const auto pub = h.connect("pub");
  for (std::uint16_t i = 1; i <= 4; ++i) h.publish(pub, "t", std::to_string(i), Q1, false, i);
  CHECK(h.out.logged("queue full (max_queued_messages=2)"));
  sub = h.connect("sub", false, 60, std::nullopt, true);
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 2);
  CHECK(as_publish(got[0]).payload == b("1"));
  CHECK(as_publish(got[1]).payload == b("2"));
}

TEST_CASE("core: max_subscriptions_per_client", "[core][limits]") {
  BrokerLimits limits;
  limits.max_subscriptions_per_client = 1;
  Harness h(limits);
  const auto c = h.connect("c");
  h.subscribe(c, "a", Q0, 1);
  h.send(c, Subscribe{2, {{"a", Q1}, {"b", Q0}}});  // replacing is fine, a new one is not
  CHECK(h.out.take(c) == std::vector<Packet>{SubAck{2, {1, suback_failure}}});
  CHECK(h.out.logged("max_subscriptions_per_client=1"));
  CHECK(h.core.stats().subscriptions == 1);
}

TEST_CASE("core: a packet above max_packet_size closes the connection", "[core][limits]") {
  BrokerLimits limits;
  limits.max_packet_size = 64;
  Harness h(limits);
  const auto c = h.connect("c");
  h.publish(c, "t", std::string(100, 'x'));
  CHECK(h.is_closed(c));
  CHECK(h.out.closed[c].find("maximum packet size") != std::string::npos);
}

TEST_CASE("core: malformed input closes only that connection", "[core][limits]") {
  Harness h;
  const auto good = h.connect("good");
  const auto bad = h.connect("bad");
  h.subscribe(good, "t", Q0);
  h.raw(bad, {0x82, 0x02, 0x00, 0x01});  // SUBSCRIBE without filters
  CHECK(h.is_closed(bad));
  CHECK_FALSE(h.is_closed(good));
  const auto pub = h.connect("pub");
  h.publish(pub, "t", "still here");
  CHECK(h.out.take(good).size() == 1);
  // Bytes for a closed or unknown connection are ignored.
  h.raw(bad, {0xC0, 0x00});
  h.raw(999, {0xC0, 0x00});
  CHECK(h.out.take(bad).empty());
}

TEST_CASE("core: on_close from inside send() is deferred safely", "[core][limits]") {
  // An output whose writes to one connection fail synchronously and report the close at once.
  struct Failing final : BrokerOutput {
    BrokerCore* core = nullptr;
    ConnectionId broken = 0;
    std::map<ConnectionId, int> sends;
    void send(ConnectionId id, std::vector<std::uint8_t>) override {
      ++sends[id];
      if (id == broken && core) core->on_close(id, Clock::time_point{});
    }
    void close(ConnectionId, std::string_view) override {}
    void log(std::string_view) override {}
  } out;
  BrokerCore core({}, out);
  out.core = &core;
  const Clock::time_point t{};
  auto connect = [&](ConnectionId id, const std::string& cid, const std::string& filter) {
    core.on_open(id, with_certificate(), t);
    Connect c;
    c.client_id = cid;
    core.on_bytes(id, encode(c), t);
    core.on_bytes(id, encode(Subscribe{1, {{filter, Q1}}}), t);
  };
  connect(1, "a", "t");
  connect(2, "b", "#");
  connect(3, "c", "t/#");
  out.broken = 2;
  core.on_bytes(1, encode(Publish{false, Q1, false, "t", 1, b("x")}), t);
  CHECK(out.sends[3] == 3);  // CONNACK, SUBACK, PUBLISH: delivery went on after the failure
  CHECK(core.stats().connections == 2);
  CHECK(core.stats().subscriptions == 2);  // b's clean session was dropped afterwards
}

TEST_CASE("core: zero limits mean no limit", "[core][limits]") {
  BrokerLimits limits;
  limits.max_inflight = 0;
  limits.max_queued_messages = 0;
  Harness h(limits);
  const auto sub = h.connect("sub");
  const auto pub = h.connect("pub");
  h.subscribe(sub, "t", Q1);
  for (std::uint16_t i = 1; i <= 50; ++i) h.publish(pub, "t", "m", Q1, false, i);
  CHECK(h.out.take(sub).size() == 50);
}

TEST_CASE("core: outgoing packet ids wrap around and skip ids still in flight", "[core][session]") {
  BrokerLimits limits;
  limits.max_inflight = 2;
  Harness h(limits);
  const auto sub = h.connect("sub");
  const auto pub = h.connect("pub");
  h.subscribe(sub, "t", Q1);
  h.publish(pub, "t", "held", Q1, false, 1);
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).packet_id == 1);  // never acknowledged
  for (std::uint32_t k = 2; k <= 0xFFFF; ++k) {
    h.publish(pub, "t", "m", Q1, false, 1);
    got = h.out.take(sub);
    REQUIRE(got.size() == 1);
    REQUIRE(as_publish(got[0]).packet_id == k);
    h.send(sub, PubAck{static_cast<std::uint16_t>(k)});
  }
  h.publish(pub, "t", "wrapped", Q1, false, 1);
  got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).packet_id == 2);  // 0 is never used, 1 is still in flight
}

TEST_CASE("core: at most 65535 messages in flight even without a limit", "[core][session]") {
  BrokerLimits limits;
  limits.max_inflight = 0;
  limits.max_queued_messages = 0;
  Harness h(limits);
  const auto sub = h.connect("sub");
  const auto pub = h.connect("pub");
  h.subscribe(sub, "t", Q1);
  for (std::uint32_t k = 0; k < 0xFFFF + 10; ++k) h.publish(pub, "t", "m", Q1, false, 1);
  CHECK(h.out.take(sub).size() == 0xFFFF);  // the rest waits in the queue, no id is reused
  h.send(sub, PubAck{7});
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).packet_id == 7);
}

TEST_CASE("core: an identical SUBSCRIBE replaces the subscription and resends retained messages",
          "[core][retained]") {
  Harness h;
  const auto pub = h.connect("pub");
  h.publish(pub, "cfg/a", "1", Q1, true, 1);
  const auto sub = h.connect("sub");
  h.subscribe(sub, "cfg/#", Q0, 1);
  CHECK(as_publish(h.out.take(sub).at(0)).qos == Q0);
  h.subscribe(sub, "cfg/#", Q1, 2);  // replaced with QoS 1: retained sent again, at the new QoS
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).qos == Q1);
  CHECK(as_publish(got[0]).retain);
  CHECK(h.core.stats().subscriptions == 1);
}

TEST_CASE("core: client-chosen text cannot split log lines", "[core][connect]") {
  Harness h;
  ConnectionInfo info = with_certificate();
  const auto id = h.open(info);
  Connect c;
  c.client_id = "x";
  c.username = "bob\nFAKE: admin connected";
  h.send(id, c);
  CHECK(h.connack(id).return_code == ConnectReturnCode::accepted);
  for (const auto& line : h.out.logs) CHECK(line.find('\n') == std::string::npos);
  CHECK(h.out.logged("user 'bob\\x0AFAKE: admin connected'"));
}

// -----------------------------------------------------------------------------------------------
// Acknowledgements that contradict the QoS flow are protocol violations: the connection closes
// (MQTT 3.1.1 section 4.8), the broker does not answer anything after them.

namespace {
// A subscriber "sub" (persistent session) with one message in flight at `qos`; returns its packet id.
std::uint16_t one_in_flight(Harness& h, ConnectionId sub, ConnectionId pub, QoS qos) {
  h.subscribe(sub, "v", qos);
  h.publish(pub, "v", "m", qos, false, 9);
  h.out.take(pub);
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  return as_publish(got[0]).packet_id;
}
}  // namespace

TEST_CASE("core: an acknowledgement that does not fit the QoS flow closes the connection", "[core][pubsub]") {
  Harness h;
  const auto sub = h.connect("sub", false);
  const auto pub = h.connect("pub");
  SECTION("PUBREC answering a QoS 1 PUBLISH") {
    const auto id = one_in_flight(h, sub, pub, Q1);
    h.send(sub, PubRec{id});
    CHECK(h.out.logged("protocol violation: PUBREC for packet id"));
  }
  SECTION("PUBCOMP answering a QoS 1 PUBLISH") {
    const auto id = one_in_flight(h, sub, pub, Q1);
    h.send(sub, PubComp{id});
    CHECK(h.out.logged("protocol violation: PUBCOMP for packet id"));
  }
  SECTION("PUBACK answering a QoS 2 PUBLISH") {
    const auto id = one_in_flight(h, sub, pub, Q2);
    h.send(sub, PubAck{id});
    CHECK(h.out.logged("(PUBACK answers a QoS 2 PUBLISH)"));
  }
  SECTION("PUBACK after PUBREL") {
    const auto id = one_in_flight(h, sub, pub, Q2);
    h.send(sub, PubRec{id});
    CHECK(h.out.take(sub) == std::vector<Packet>{PubRel{id}});
    h.send(sub, PubAck{id});
    CHECK(h.out.logged("(PUBACK after PUBREL)"));
  }
  SECTION("PUBCOMP before PUBREC") {
    const auto id = one_in_flight(h, sub, pub, Q2);
    h.send(sub, PubComp{id});
    CHECK(h.out.logged("(PUBCOMP before PUBREL)"));
  }
  CHECK(h.is_closed(sub));
  CHECK_FALSE(h.is_closed(pub));
  h.send(sub, PingReq{});  // nothing is answered after the violation (FakeOutput fails a send after close)
  CHECK(h.out.take(sub).empty());
}

TEST_CASE("core: duplicate and unknown acknowledgements are still ignored", "[core][pubsub]") {
  Harness h;
  const auto sub = h.connect("sub", false);
  const auto pub = h.connect("pub");
  const auto id = one_in_flight(h, sub, pub, Q2);
  h.send(sub, PubRec{id});
  h.send(sub, PubRec{id});  // a repeated PUBREC gets PUBREL again
  CHECK(h.out.take(sub) == std::vector<Packet>{PubRel{id}, PubRel{id}});
  h.send(sub, PubComp{id});
  h.send(sub, PubComp{id});  // already complete: unknown now
  h.send(sub, PubAck{4242});
  CHECK_FALSE(h.is_closed(sub));
}

// -----------------------------------------------------------------------------------------------
// MQTT 3.1 ("MQIsdp", level 3): accepted with its rules, as Mosquitto does.

namespace {
Connect mqtt31(const std::string& client_id, bool clean = true) {
  Connect c;
  c.protocol_name = "MQIsdp";
  c.protocol_level = 3;
  c.client_id = client_id;
  c.clean_session = clean;
  return c;
}
}  // namespace

TEST_CASE("core: an MQTT 3.1 client is served", "[core][connect]") {
  Harness h;
  const auto sub = h.open();
  // The bytes an MQTT 3.1 client sends: protocol name "MQIsdp", level 3, clean session, keep-alive 60.
  h.raw(sub, {0x10, 16, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0, 60, 0, 2, 'o', 'l'});
  CHECK(h.connack(sub) == ConnAck{false, ConnectReturnCode::accepted});
  h.subscribe(sub, "t", Q1);
  const auto pub = h.connect("pub");
  h.publish(pub, "t", "x", Q1, false, 3);
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).payload == b("x"));
  CHECK_FALSE(h.is_closed(sub));
}

TEST_CASE("core: MQTT 3.1 rules: client id 1 to 23 bytes, no session-present flag", "[core][connect]") {
  Harness h;
  SECTION("24 bytes: CONNACK 2") {
    const auto id = h.open();
    h.send(id, mqtt31(std::string(24, 'x')));
    CHECK(h.connack(id) == ConnAck{false, ConnectReturnCode::identifier_rejected});
    CHECK(h.is_closed(id));
    CHECK(h.out.logged("MQTT 3.1 client id must be 1 to 23 bytes"));
  }
  SECTION("empty: CONNACK 2 (3.1 has no assigned ids)") {
    const auto id = h.open();
    h.send(id, mqtt31(""));
    CHECK(h.connack(id).return_code == ConnectReturnCode::identifier_rejected);
  }
  SECTION("23 bytes, resumed persistent session: accepted, session-present stays 0") {
    const std::string cid(23, 'y');
    auto id = h.open();
    h.send(id, mqtt31(cid, false));
    CHECK(h.connack(id) == ConnAck{false, ConnectReturnCode::accepted});
    h.core.on_close(id, h.now);
    id = h.open();
    h.send(id, mqtt31(cid, false));
    CHECK(h.connack(id) == ConnAck{false, ConnectReturnCode::accepted});
    CHECK(h.out.logged("session resumed"));
  }
  SECTION("MQIsdp with level 4 is still refused with CONNACK 1") {
    const auto id = h.open();
    Connect c = mqtt31("x");
    c.protocol_level = 4;
    h.send(id, c);
    CHECK(h.connack(id).return_code == ConnectReturnCode::unacceptable_protocol_version);
  }
}

// -----------------------------------------------------------------------------------------------
// use_username_as_clientid: one identity cannot take over another's session.

TEST_CASE("core: use_username_as_clientid names the session by the certificate identity", "[core][session]") {
  Harness h;
  auto identity = [](const std::string& cn) {
    ConnectionInfo info = with_certificate(cn);
    info.identity_username = cn;
    info.username_as_client_id = true;
    return info;
  };
  // sensor-1 has a persistent session with a queued message.
  auto s1 = h.open(identity("sensor-1"));
  Connect c;
  c.client_id = "sensor-1";
  c.clean_session = false;
  h.send(s1, c);
  REQUIRE(h.connack(s1).return_code == ConnectReturnCode::accepted);
  h.subscribe(s1, "cmd/sensor-1", Q1);
  h.core.on_close(s1, h.now);
  const auto pub = h.connect("pub");
  h.publish(pub, "cmd/sensor-1", "secret", Q1, false, 1);
  // Another certificate claims sensor-1's client id: it gets its own session, named by its CN.
  const auto thief = h.open(identity("intruder"));
  h.send(thief, c);
  CHECK(h.connack(thief) == ConnAck{false, ConnectReturnCode::accepted});
  CHECK(h.out.take(thief).empty());
  CHECK(h.out.logged("client 'intruder' connected"));
  // sensor-1, whatever id it sends, resumes its own session and gets the message.
  s1 = h.open(identity("sensor-1"));
  c.client_id = "anything";
  h.send(s1, c);
  CHECK(h.connack(s1) == ConnAck{true, ConnectReturnCode::accepted});
  auto got = h.out.take(s1);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).payload == b("secret"));
  CHECK_FALSE(h.is_closed(thief));  // not taken over either
}

TEST_CASE("core: use_username_as_clientid without a user name gets CONNACK 5", "[core][session]") {
  Harness h;
  ConnectionInfo info = with_certificate();
  info.username_as_client_id = true;
  const auto id = h.open(info);
  Connect c;
  c.client_id = "x";
  h.send(id, c);
  CHECK(h.connack(id).return_code == ConnectReturnCode::not_authorized);
  CHECK(h.out.logged("use_username_as_clientid is set and the client has no user name"));
}

TEST_CASE("core: allow_zero_length_clientid false refuses an empty client id", "[core][connect]") {
  Harness h;
  ConnectionInfo info = with_certificate();
  info.zero_length_client_id_allowed = false;
  const auto id = h.open(info);
  h.send(id, Connect{});
  CHECK(h.connack(id).return_code == ConnectReturnCode::identifier_rejected);
  CHECK(h.out.logged("allow_zero_length_clientid is false"));
}

// -----------------------------------------------------------------------------------------------
// Mosquitto's message_size_limit, persistent_client_expiration and max_queued_messages meanings.

TEST_CASE("core: a payload over max_payload_size is acknowledged but not delivered or retained", "[core][limits]") {
  BrokerLimits limits;
  limits.max_payload_size = 4;
  Harness h(limits);
  const auto sub = h.connect("sub");
  h.subscribe(sub, "t", Q1);
  const auto pub = h.connect("pub");
  h.publish(pub, "t", "12345", Q1, true, 7);
  CHECK(h.out.take(pub) == std::vector<Packet>{PubAck{7}});
  CHECK(h.out.take(sub).empty());
  CHECK(h.core.stats().retained == 0);
  CHECK(h.out.logged("payload of 5 bytes over message_size_limit=4"));
  h.publish(pub, "t", "1234", Q1, false, 8);
  CHECK(h.out.take(sub).size() == 1);
}

TEST_CASE("core: persistent sessions expire after persistent_session_expiry away", "[core][session]") {
  BrokerLimits limits;
  limits.persistent_session_expiry = std::chrono::hours(1);
  Harness h(limits);
  const auto a = h.connect("a", false);
  h.subscribe(a, "t", Q1);
  const auto b_id = h.connect("b", false, 0);  // stays connected (no keep-alive): never expires
  h.core.on_close(a, h.now);
  h.tick(std::chrono::minutes(59));
  CHECK(h.core.stats().sessions == 2);
  h.tick(std::chrono::minutes(1));
  CHECK(h.core.stats().sessions == 1);
  CHECK(h.core.stats().subscriptions == 0);
  CHECK(h.out.logged("client 'a': persistent session expired after 3600s away"));
  CHECK_FALSE(h.is_closed(b_id));
  h.connect("a", false, 60, std::nullopt, false);  // a fresh session
}

TEST_CASE("core: max_queued_messages counts messages beyond those in flight, as Mosquitto", "[core][limits]") {
  BrokerLimits limits;
  limits.max_inflight = 2;
  limits.max_queued_messages = 3;
  Harness h(limits);
  const auto sub = h.connect("sub");
  h.subscribe(sub, "t", Q1);
  const auto pub = h.connect("pub");
  for (std::uint16_t i = 1; i <= 6; ++i) h.publish(pub, "t", std::to_string(i), Q1, false, i);
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 2);  // in flight; 3 queued, the 6th dropped
  CHECK(h.out.logged("queue full (max_queued_messages=3)"));
  for (const auto& p : got) h.send(sub, PubAck{as_publish(p).packet_id});
  got = h.out.take(sub);
  REQUIRE(got.size() == 2);
  for (const auto& p : got) h.send(sub, PubAck{as_publish(p).packet_id});
  got = h.out.take(sub);
  REQUIRE(got.size() == 1);
  CHECK(as_publish(got[0]).payload == b("5"));
}

// -----------------------------------------------------------------------------------------------
// A SUBSCRIBE's retained burst goes out as the subscriber drains, not all at once (where it would trip
// the net layer's per-connection write cap and drop a subscriber that reads).

TEST_CASE("core: retained messages of a SUBSCRIBE are paced by the write backlog", "[core][retained]") {
  BrokerLimits limits;
  limits.retained_window = 1000;
  Harness h(limits);
  const auto pub = h.connect("pub");
  const std::string payload(400, 'p');
  for (int i = 0; i < 10; ++i) h.publish(pub, "sensors/" + std::to_string(i), payload, Q0, true);
  const auto sub = h.connect("sub");
  h.out.hold = true;
  h.subscribe(sub, "sensors/#", Q0);
  std::vector<std::string> topics;
  auto collect = [&] {
    for (const auto& p : h.out.take(sub)) topics.push_back(as_publish(p).topic);
  };
  collect();
  CHECK(topics.size() == 3);  // 3 x ~413 bytes reach the 1,000-byte window
  // A live message on a topic whose retained message is still pending replaces it.
  h.out.hold = false;
  h.publish(pub, "sensors/9", "live", Q0, false);
  h.out.hold = true;
  collect();
  for (int round = 0; round < 10 && topics.size() < 10; ++round) {
    h.out.unsent[sub] = 0;  // the socket took everything
    h.core.on_writable(sub, h.now);
    collect();
  }
  const std::vector<std::string> expected{"sensors/0", "sensors/1", "sensors/2", "sensors/9", "sensors/3",
                                          "sensors/4", "sensors/5", "sensors/6", "sensors/7", "sensors/8"};
  CHECK(topics == expected);  // all delivered, and the stale retained sensors/9 never after the live one
  CHECK_FALSE(h.is_closed(sub));
  h.out.unsent[sub] = 0;
  h.core.on_writable(sub, h.now);  // nothing left: nothing sent
  CHECK(h.out.take(sub).empty());
}

TEST_CASE("core: pending retained messages end with their connection", "[core][retained]") {
  BrokerLimits limits;
  limits.retained_window = 6;  // the 5-byte SUBACK, then one message
  Harness h(limits);
  const auto pub = h.connect("pub");
  for (int i = 0; i < 5; ++i) h.publish(pub, "r/" + std::to_string(i), "v", Q1, true, static_cast<std::uint16_t>(i + 1));
  const auto sub = h.connect("sub");
  h.out.hold = true;
  h.subscribe(sub, "r/#", Q1);
  CHECK(h.out.take(sub).size() == 1);
  h.core.on_close(sub, h.now);
  h.core.on_writable(sub, h.now);  // unknown now: ignored
  h.out.hold = false;
  h.publish(pub, "r/0", "w", Q0, false);  // routing no longer looks for the closed connection's backlog
  CHECK(h.core.stats().connections == 1);
}

TEST_CASE("core: pending retained messages of an unsubscribed filter are not sent", "[core][retained]") {
  BrokerLimits limits;
  limits.retained_window = 7;  // the 6-byte SUBACK (two filters), then one message
  Harness h(limits);
  const auto pub = h.connect("pub");
  for (int i = 0; i < 4; ++i) h.publish(pub, "r/" + std::to_string(i), "v", Q0, true);
  h.publish(pub, "s/0", "v", Q0, true);
  const auto sub = h.connect("sub");
  h.out.hold = true;
  h.send(sub, Subscribe{1, {{"r/#", Q0}, {"s/#", Q0}}});
  REQUIRE(h.out.take(sub).size() == 2);  // SUBACK and r/0
  h.send(sub, Unsubscribe{2, {"r/#"}});
  CHECK(h.out.take(sub) == std::vector<Packet>{UnsubAck{2}});
  h.out.unsent[sub] = 0;
  h.core.on_writable(sub, h.now);
  auto got = h.out.take(sub);
  REQUIRE(got.size() == 1);  // s/0 only: r/1..r/3 were for the filter the client dropped
  CHECK(as_publish(got[0]).topic == "s/0");
}
