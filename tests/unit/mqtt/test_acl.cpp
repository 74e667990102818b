// The acl_file reader and the per-client decision (Mosquitto 2.0 semantics; the interop test
// tests/interop/test_acl_interop.sh runs the same cases against the real Mosquitto).
#include <mqttpki/mqtt/acl.hpp>

#include <catch2/catch.hpp>

using namespace mqttpki::mqtt;

namespace {
const char* const kFile = R"(# devices and a logger
topic read public/#

user pi1
topic readwrite sensors/pi1/#
topic deny sensors/pi1/secret
user logger
topic read sensors/#
topic write
  user pi1
topic read shared/+/status
pattern write devices/%u/#
pattern read commands/%c
pattern deny devices/%u/locked
)";

ClientAcl client(const Acl& acl, std::optional<std::string> user, std::string_view id = "c1") {
  return ClientAcl(std::make_shared<const Acl>(acl), user, id);
}
}  // namespace

TEST_CASE("acl: sections, user blocks joined, one-word topic lines, patterns wherever they stand") {
  const Acl acl = parse_acl(kFile);
  REQUIRE(acl.anonymous == std::vector<AclRule>{{"public/#", acl_read}});
  REQUIRE(acl.users.size() == 2);
  CHECK(acl.users.at("pi1") == std::vector<AclRule>{{"sensors/pi1/#", acl_readwrite},
                                                     {"sensors/pi1/secret", acl_deny},
                                                     {"shared/+/status", acl_read}});
  // "topic write" is the topic "write" with readwrite access, as Mosquitto reads it.
  CHECK(acl.users.at("logger") == std::vector<AclRule>{{"sensors/#", acl_read}, {"write", acl_readwrite}});
  CHECK(acl.patterns == std::vector<AclRule>{{"devices/%u/#", acl_write},
                                             {"commands/%c", acl_read},
                                             {"devices/%u/locked", acl_deny}});
}

TEST_CASE("acl: bad lines are refused with their line number") {
  const auto line_of = [](std::string_view text) {
    try {
      (void)parse_acl(text);
    } catch (const AclSyntaxError& e) {
      return e.line();
    }
    return 0;
  };
  CHECK(line_of("topic a\ntopic\n") == 2);
  CHECK(line_of("\n\ntopic sometimes a/b\n") == 3);
  CHECK(line_of("user\n") == 1);
  CHECK(line_of("users pi1\n") == 1);
  CHECK(line_of("topic read a/#/b\n") == 1);
  CHECK(line_of("pattern read a/b+\n") == 1);
  CHECK(line_of("topic read \xff\n") == 1);
  CHECK(line_of("# comment\n   # indented comment\n\ttopic read a\r\n") == 0);
  CHECK(parse_acl("topic read a b\n").anonymous == std::vector<AclRule>{{"a b", acl_read}});
}

TEST_CASE("acl: user rules, denials first, anonymous section") {
  const Acl acl = parse_acl(kFile);
  const auto pi1 = client(acl, "pi1");
  CHECK(pi1.allows("sensors/pi1/t", acl_write));
  CHECK(pi1.allows("sensors/pi1", acl_read));  // '#' includes the parent level
  CHECK_FALSE(pi1.allows("sensors/pi1/secret", acl_read));
  CHECK_FALSE(pi1.allows("sensors/pi1/secret", acl_write));
  CHECK(pi1.allows("sensors/pi1/secret/deeper", acl_read));
  CHECK_FALSE(pi1.allows("sensors/pi2/t", acl_read));
  CHECK(pi1.allows("shared/x/status", acl_read));
  CHECK_FALSE(pi1.allows("shared/x/status", acl_write));
  CHECK_FALSE(pi1.allows("shared/x/y/status", acl_read));
  CHECK_FALSE(pi1.allows("public/news", acl_read));  // the anonymous section is for anonymous clients only

  const auto anon = client(acl, std::nullopt);
  CHECK(anon.allows("public/news", acl_read));
  CHECK_FALSE(anon.allows("public/news", acl_write));
  CHECK(anon.allows("commands/c1", acl_read));            // %c applies to anonymous clients
  CHECK_FALSE(anon.allows("devices/c1/x", acl_write));   // %u never does

  const auto stranger = client(acl, "stranger");  // no user block: patterns only
  CHECK_FALSE(stranger.allows("sensors/pi1/t", acl_read));
  CHECK(stranger.allows("devices/stranger/x", acl_write));
  CHECK_FALSE(stranger.allows("devices/stranger/locked", acl_write));
  CHECK_FALSE(stranger.allows("devices/other/x", acl_write));
}

TEST_CASE("acl: a user's own allow wins over a denying pattern, as in Mosquitto 2.0") {
  const Acl acl = parse_acl("user pi1\ntopic read devices/#\npattern deny devices/%u/#\n");
  CHECK(client(acl, "pi1").allows("devices/pi1/x", acl_read));
  CHECK_FALSE(client(acl, "pi2").allows("devices/pi2/x", acl_read));
}

TEST_CASE("acl: %u and %c with characters special in topics do not widen access") {
  const Acl acl = parse_acl("topic read open/#\npattern readwrite sensors/%u/#\npattern readwrite cmd/%c/#\n"
                            "pattern deny locked/%u\nuser a+b\ntopic read open/#\n");
  // '+' or '#' in the user name or client id: everything refused (Mosquitto does the same).
  for (const char* bad : {"+", "#", "a+b", "x#"}) {
    CHECK_FALSE(client(acl, std::string(bad)).allows(std::string("sensors/") + bad + "/t", acl_read));
    CHECK_FALSE(client(acl, std::string(bad)).allows("sensors/other/t", acl_write));
    CHECK_FALSE(client(acl, std::string(bad)).allows("open/x", acl_read));  // even its own user block
    CHECK_FALSE(client(acl, std::nullopt, bad).allows("cmd/other/t", acl_read));
    CHECK_FALSE(client(acl, std::nullopt, bad).allows("open/x", acl_read));
  }
  // '/' would move the client into another one's lane: no allowing pattern substitutes it.
  const auto slash = client(acl, std::string("pi1/x"), "c/1");
  CHECK_FALSE(slash.allows("sensors/pi1/x/t", acl_read));
  CHECK_FALSE(slash.allows("cmd/c/1/t", acl_write));
  CHECK(client(acl, std::string("pi1"), "c1").allows("sensors/pi1/x/t", acl_read));
  // ...but a denying one still applies.
  const Acl deny = parse_acl("pattern readwrite locked/#\npattern deny locked/%u\n");
  CHECK_FALSE(client(deny, std::string("a/b")).allows("locked/a/b", acl_write));
  CHECK(client(deny, std::string("a/b")).allows("locked/a", acl_write));
}

TEST_CASE("acl: $SYS is never writable, $share never readable or writable; wildcards do not reach $ topics") {
  const Acl acl = parse_acl("user admin\ntopic readwrite #\ntopic readwrite $SYS/#\ntopic readwrite $share/#\n");
  const auto admin = client(acl, "admin");
  CHECK(admin.allows("a/b", acl_write));
  CHECK(admin.allows("$SYS/broker/load", acl_read));
  CHECK_FALSE(admin.allows("$SYS/broker/load", acl_write));
  CHECK_FALSE(admin.allows("$share/g/t", acl_read));
  const Acl plain = parse_acl("user u\ntopic readwrite #\ntopic readwrite +/x\n");
  CHECK_FALSE(client(plain, "u").allows("$SYS/x", acl_read));
  CHECK_FALSE(client(plain, "u").allows("$other/x", acl_read));
}
