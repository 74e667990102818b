// The retained-message store (retained.hpp).
#include <mqttpki/mqtt/retained.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

using namespace mqttpki::mqtt;

namespace {
constexpr QoS Q0 = QoS::at_most_once;
constexpr QoS Q1 = QoS::at_least_once;
constexpr QoS Q2 = QoS::exactly_once;

Message msg(std::string topic, std::string payload, QoS qos = Q0) {
  return Message{std::move(topic), make_payload({payload.begin(), payload.end()}), qos, true};
}
}  // namespace

TEST_CASE("retained store: set, replace, clear with an empty payload", "[retained]") {
  RetainedStore r;
  r.set(msg("a/b", "1", Q1));
  r.set(msg("a/c", "2"));
  CHECK(r.size() == 2);
  r.set(msg("a/b", "3", Q2));  // replaces
  REQUIRE(r.find("a/b"));
  CHECK(*r.find("a/b")->payload == std::vector<std::uint8_t>{'3'});
  CHECK(r.find("a/b")->qos == Q2);
  CHECK(r.size() == 2);
  r.set(msg("a/b", ""));  // clears
  CHECK(r.find("a/b") == nullptr);
  CHECK(r.size() == 1);
  r.set(msg("never", ""));  // clearing a topic that has nothing is harmless
  CHECK(r.size() == 1);
}

TEST_CASE("retained store: matching a subscription's filter", "[retained]") {
  RetainedStore r;
  for (const char* t : {"a", "a/b", "a/b/c", "ab", "b/b", "$SYS/x", "/a"}) r.set(msg(t, "x"));
  auto topics = [&](std::string_view filter) {
    std::vector<std::string> out;
    for (const auto* m : r.match(filter)) out.push_back(m->topic);
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(topics("a/#") == V{"a", "a/b", "a/b/c"});
  CHECK(topics("a/+") == V{"a/b"});
  CHECK(topics("+/b") == V{"a/b", "b/b"});
  CHECK(topics("#") == V{"/a", "a", "a/b", "a/b/c", "ab", "b/b"});  // no $SYS
  CHECK(topics("$SYS/#") == V{"$SYS/x"});
  CHECK(topics("ab") == V{"ab"});
  CHECK(topics("nothing") == V{});
  CHECK(topics("+/a") == V{"/a"});
}
