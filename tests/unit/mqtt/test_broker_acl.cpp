// BrokerCore with an acl_file and a password check: CONNACK codes, SUBSCRIBE granted, denied PUBLISH
// dropped but acknowledged, delivery and retained messages filtered by read access, reload.
#include <mqttpki/mqtt/broker_core.hpp>
#include <mqttpki/mqtt/codec.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace mqttpki::mqtt;

namespace {

struct Recorder final : BrokerOutput {
  std::map<ConnectionId, FrameReader> readers;
  std::map<ConnectionId, std::vector<Packet>> got;
  std::vector<std::string> logs;
  void send(ConnectionId id, std::vector<std::uint8_t> bytes) override {
    readers[id].feed(bytes);
    for (auto next = readers[id].next(); next.has_value() && next.value(); next = readers[id].next())
      got[id].push_back(std::move(*next.value()));
  }
  void close(ConnectionId, std::string_view) override {}
  void log(std::string_view line) override { logs.emplace_back(line); }
  std::vector<Packet> take(ConnectionId id) { return std::exchange(got[id], {}); }
};

// "secret" is everyone's password.
struct SecretPasswords final : PasswordCheck {
  bool verify(std::string_view username, const std::optional<std::vector<std::uint8_t>>& password) const override {
    return username != "unknown" && password == std::vector<std::uint8_t>{'s', 'e', 'c', 'r', 'e', 't'};
  }
};

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
Publish pub(std::string topic, std::string_view payload, QoS qos, bool retain, std::uint16_t id) {
  return Publish{false, qos, retain, std::move(topic), id, bytes(payload)};
}

struct AclBroker {
  Recorder out;
  BrokerCore core{BrokerLimits{}, out};
  std::shared_ptr<const Acl> acl = std::make_shared<const Acl>(parse_acl(
      "topic read public/#\nuser logger\ntopic read sensors/#\npattern write sensors/%u/#\n"
      "pattern read commands/%u/#\n"));
  ConnectionId next = 1;

  // Returns the connection and its CONNACK code.
  std::pair<ConnectionId, ConnectReturnCode> connect(std::optional<std::string> user, std::string_view password,
                                                     bool anonymous_allowed = false, std::string client_id = "") {
    ConnectionInfo info;
    info.peer = "127.0.0.1:1";
    info.listener = "plain:1883";
    info.anonymous_allowed = anonymous_allowed;
    info.passwords = std::make_shared<const SecretPasswords>();
    info.acl = acl;
    const ConnectionId id = next++;
    core.on_open(id, std::move(info), Clock::time_point{});
    Connect c;
    c.client_id = client_id.empty() ? fmt_id(id) : client_id;
    c.clean_session = client_id.empty();
    c.username = std::move(user);
    if (c.username) c.password = bytes(password);
    feed(id, c);
    auto packets = out.take(id);
    REQUIRE(packets.size() == 1);
    return {id, std::get<ConnAck>(packets[0]).return_code};
  }
  static std::string fmt_id(ConnectionId id) { return "c" + std::to_string(id); }
  void feed(ConnectionId id, const Packet& p) {
    const auto b = encode(p);
    core.on_bytes(id, b, Clock::time_point{});
  }
  ConnectionId user(const std::string& name) {
    auto [id, code] = connect(name, "secret");
    REQUIRE(code == ConnectReturnCode::accepted);
    return id;
  }
  std::vector<std::string> topics(ConnectionId id) {
    std::vector<std::string> t;
    for (const auto& p : out.take(id))
      if (const auto* m = std::get_if<Publish>(&p)) t.push_back(m->topic);
    return t;
  }
};

}  // namespace

TEST_CASE("broker acl: CONNACK 4 for a wrong password or an unknown user, 5 for a refused anonymous client") {
  AclBroker b;
  CHECK(b.connect("pi1", "secret").second == ConnectReturnCode::accepted);
  CHECK(b.connect("pi1", "wrong").second == ConnectReturnCode::bad_username_or_password);
  CHECK(b.connect("unknown", "secret").second == ConnectReturnCode::bad_username_or_password);
  CHECK(b.connect(std::nullopt, "").second == ConnectReturnCode::not_authorized);
  CHECK(b.connect(std::nullopt, "", true).second == ConnectReturnCode::accepted);
  CHECK(b.connect("pi1", "wrong", true).second == ConnectReturnCode::bad_username_or_password);
  for (const auto& line : b.out.logs) CHECK(line.find("wrong") == std::string::npos);  // never a password
}

TEST_CASE("broker acl: SUBSCRIBE granted, delivery filtered by read access, denied PUBLISH acknowledged") {
  AclBroker b;
  const auto pi1 = b.user("pi1");
  const auto logger = b.user("logger");
  b.feed(logger, Subscribe{1, {{"#", QoS::at_least_once}}});
  b.feed(pi1, Subscribe{2, {{"#", QoS::at_least_once}}});
  CHECK(b.out.take(logger) == std::vector<Packet>{SubAck{1, {1}}});
  CHECK(b.out.take(pi1) == std::vector<Packet>{SubAck{2, {1}}});

  b.feed(pi1, pub("sensors/pi1/t", "1", QoS::at_least_once, false, 7));
  b.feed(pi1, pub("sensors/pi2/t", "2", QoS::exactly_once, false, 8));
  b.feed(pi1, pub("commands/pi1/x", "3", QoS::at_least_once, false, 9));
  CHECK(b.out.take(pi1) == std::vector<Packet>{PubAck{7}, PubRec{8}, PubAck{9}});
  CHECK(b.topics(logger) == std::vector<std::string>{"sensors/pi1/t"});

  b.feed(logger, pub("commands/pi1/reboot", "4", QoS::at_most_once, false, 0));
  CHECK(b.topics(pi1).empty());  // the logger may not write there
}

TEST_CASE("broker acl: retained messages are filtered by read access; a reload applies at once") {
  AclBroker b;
  const auto pi1 = b.user("pi1");
  b.feed(pi1, pub("sensors/pi1/t", "r", QoS::at_most_once, true, 0));
  const auto pi2 = b.user("pi2");
  b.feed(pi2, Subscribe{1, {{"sensors/#", QoS::at_most_once}}});
  CHECK(b.out.take(pi2) == std::vector<Packet>{SubAck{1, {0}}});  // no retained message: pi2 may not read it
  const auto logger = b.user("logger");
  b.feed(logger, Subscribe{1, {{"sensors/#", QoS::at_most_once}}});
  CHECK(b.topics(logger) == std::vector<std::string>{"sensors/pi1/t"});

  b.core.set_acl(pi2, std::make_shared<const Acl>(parse_acl("topic read sensors/#\npattern readwrite sensors/#\n")));
  b.feed(pi1, pub("sensors/pi1/u", "n", QoS::at_most_once, false, 0));
  CHECK(b.topics(pi2) == std::vector<std::string>{"sensors/pi1/u"});
}

TEST_CASE("broker acl: messages queued for an offline session are checked again with the ACL of its reconnection") {
  AclBroker b;
  auto [pi2, code] = b.connect("pi2", "secret", false, "pi2-persistent");
  REQUIRE(code == ConnectReturnCode::accepted);
  b.acl = std::make_shared<const Acl>(parse_acl("pattern readwrite sensors/#\n"));
  b.core.set_acl(pi2, b.acl);
  b.feed(pi2, Subscribe{1, {{"sensors/#", QoS::at_least_once}}});
  b.core.on_close(pi2, Clock::time_point{});
  const auto pi1 = b.user("pi1");
  b.feed(pi1, pub("sensors/pi1/a", "1", QoS::at_least_once, false, 3));
  b.acl = std::make_shared<const Acl>(parse_acl("pattern write sensors/%u/#\n"));  // the reload: pi2 reads nothing
  auto [again, code2] = b.connect("pi2", "secret", false, "pi2-persistent");
  REQUIRE(code2 == ConnectReturnCode::accepted);
  b.feed(again, pub("sensors/pi2/b", "2", QoS::at_least_once, false, 4));
  CHECK(b.topics(again).empty());
}
