// The subscription table (subscriptions.hpp).
#include <mqttpki/mqtt/subscriptions.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace mqttpki::mqtt;

namespace {
std::vector<std::pair<std::string, QoS>> as_pairs(const std::vector<Subscriber>& subs) {
  std::vector<std::pair<std::string, QoS>> out;
  for (const auto& s : subs) out.emplace_back(std::string(s.client_id), s.qos);
  return out;
}
using P = std::vector<std::pair<std::string, QoS>>;
constexpr QoS Q0 = QoS::at_most_once;
constexpr QoS Q1 = QoS::at_least_once;
constexpr QoS Q2 = QoS::exactly_once;
}  // namespace

TEST_CASE("subscription table: exact and wildcard matches", "[subscriptions]") {
  SubscriptionTable t;
  CHECK(t.subscribe("a", "x/y", Q1));
  CHECK(t.subscribe("b", "x/+", Q2));
  CHECK(t.subscribe("c", "#", Q0));
  CHECK(t.subscribe("d", "x/#", Q1));
  CHECK(t.subscribe("e", "z", Q1));
  CHECK(t.size() == 5);

  CHECK(as_pairs(t.match("x/y")) == P{{"a", Q1}, {"b", Q2}, {"c", Q0}, {"d", Q1}});
  CHECK(as_pairs(t.match("x")) == P{{"c", Q0}, {"d", Q1}});  // "x/#" matches the parent
  CHECK(as_pairs(t.match("x/y/z")) == P{{"c", Q0}, {"d", Q1}});
  CHECK(as_pairs(t.match("q")) == P{{"c", Q0}});
  CHECK(as_pairs(t.match("z")) == P{{"c", Q0}, {"e", Q1}});
}

TEST_CASE("subscription table: overlapping filters deliver once at the highest QoS", "[subscriptions]") {
  SubscriptionTable t;
  t.subscribe("a", "s/#", Q0);
  t.subscribe("a", "s/+", Q2);
  t.subscribe("a", "s/t", Q1);
  t.subscribe("b", "s/t", Q0);
  CHECK(as_pairs(t.match("s/t")) == P{{"a", Q2}, {"b", Q0}});
  CHECK(t.count("a") == 3);
}

TEST_CASE("subscription table: $-topics and leading wildcards", "[subscriptions]") {
  SubscriptionTable t;
  t.subscribe("all", "#", Q0);
  t.subscribe("plus", "+/broker", Q0);
  t.subscribe("sys", "$SYS/#", Q1);
  t.subscribe("sys2", "$SYS/+", Q0);
  CHECK(as_pairs(t.match("$SYS/broker")) == P{{"sys", Q1}, {"sys2", Q0}});
  CHECK(as_pairs(t.match("a/broker")) == P{{"all", Q0}, {"plus", Q0}});
}

TEST_CASE("subscription table: replace, unsubscribe, remove client", "[subscriptions]") {
  SubscriptionTable t;
  CHECK(t.subscribe("a", "x/+", Q0));
  CHECK_FALSE(t.subscribe("a", "x/+", Q2));  // replaced, not added
  CHECK(t.size() == 1);
  CHECK(as_pairs(t.match("x/1")) == P{{"a", Q2}});
  t.subscribe("a", "y", Q1);
  t.subscribe("b", "y", Q1);
  CHECK(t.has("a", "y"));
  CHECK(t.filters("a") == P{{"x/+", Q2}, {"y", Q1}});
  CHECK(t.unsubscribe("a", "y"));
  CHECK_FALSE(t.unsubscribe("a", "y"));
  CHECK_FALSE(t.unsubscribe("nobody", "y"));
  CHECK(as_pairs(t.match("y")) == P{{"b", Q1}});
  CHECK(t.remove_client("a") == 1);
  CHECK(t.match("x/1").empty());
  CHECK(t.size() == 1);
  CHECK(t.count("a") == 0);
  CHECK(t.remove_client("b") == 1);
  CHECK(t.size() == 0);
}

TEST_CASE("subscription table: empty levels", "[subscriptions]") {
  SubscriptionTable t;
  t.subscribe("a", "/+", Q0);
  t.subscribe("b", "a//b", Q0);
  t.subscribe("c", "+/+", Q0);
  CHECK(as_pairs(t.match("/x")) == P{{"a", Q0}, {"c", Q0}});
  CHECK(as_pairs(t.match("a//b")) == P{{"b", Q0}});
  CHECK(as_pairs(t.match("a/")) == P{{"c", Q0}});
}
