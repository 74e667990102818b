#include <mqttpki/mqtt/topic.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace mqttpki::mqtt;

TEST_CASE("topic names", "[topic]") {
  CHECK(valid_topic_name("a"));
  CHECK(valid_topic_name("a/b/c"));
  CHECK(valid_topic_name("/"));
  CHECK(valid_topic_name("a//b"));
  CHECK(valid_topic_name("$SYS/broker"));
  CHECK(valid_topic_name(" spaces ok "));
  CHECK_FALSE(valid_topic_name(""));
  CHECK_FALSE(valid_topic_name("a/+"));
  CHECK_FALSE(valid_topic_name("a/#"));
  CHECK_FALSE(valid_topic_name("a+b"));
  CHECK_FALSE(valid_topic_name(std::string_view("a\0b", 3)));
}

TEST_CASE("topic filters", "[topic]") {
  for (const char* f : {"a", "#", "+", "a/#", "a/+", "+/+", "+/#", "/+", "a//b", "$SYS/#", "+/a/#", "/"}) {
    INFO(f);
    CHECK(valid_topic_filter(f));
  }
  for (const char* f : {"", "a#", "a/#/b", "#/a", "a+", "a/b+", "+a", "a/+b/c", "##", "++"}) {
    INFO(f);
    CHECK_FALSE(valid_topic_filter(f));
  }
}

TEST_CASE("topic matching table", "[topic]") {
  struct Row {
    const char* filter;
    const char* name;
    bool match;
  };
  const Row rows[] = {
      {"a/b", "a/b", true},
      {"a/b", "a/c", false},
      {"a/b", "a/b/c", false},
      {"a/b/c", "a/b", false},
      {"#", "a", true},
      {"#", "a/b/c", true},
      {"#", "/a", true},
      {"a/#", "a", true},  // '#' also matches the parent level
      {"a/#", "a/b", true},
      {"a/#", "a/b/c", true},
      {"a/#", "ab", false},
      {"a/#", "b/a", false},
      {"+", "a", true},
      {"+", "a/b", false},
      {"+", "/a", false},
      {"/+", "/a", true},
      {"+/+", "/a", true},
      {"a/+", "a/b", true},
      {"a/+", "a/", true},  // empty level
      {"a/+", "a", false},
      {"a/+/c", "a/b/c", true},
      {"a/+/c", "a/b/d", false},
      {"+/b/#", "a/b", true},
      {"+/b/#", "a/b/c/d", true},
      {"a//b", "a//b", true},
      {"a/+/b", "a//b", true},
      {"A", "a", false},  // case-sensitive
      // $-topics: a leading wildcard never matches them
      {"#", "$SYS/broker/load", false},
      {"+/broker/load", "$SYS/broker/load", false},
      {"+", "$SYS", false},
      {"$SYS/#", "$SYS/broker/load", true},
      {"$SYS/+/load", "$SYS/broker/load", true},
      {"$SYS", "$SYS", true},
      {"a/$x", "a/$x", true},
      {"a/+", "a/$x", true},  // only the first level is special
  };
  for (const auto& r : rows) {
    INFO(r.filter << " vs " << r.name);
    CHECK(topic_matches(r.filter, r.name) == r.match);
  }
}
