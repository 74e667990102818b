// password_file and acl_file: the directives, the per-listener rule, the anonymous default, and the readers.
#include <mqttpki/net/auth_files.hpp>
#include <mqttpki/net/broker_config.hpp>
#include <mqttpki/pki/error.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace mqttpki;
using namespace mqttpki::net;

namespace {
// Written by the real mosquitto_passwd 2.0.11: alice/secret ($7$), carol/carolpw ($6$, -H sha512).
const char* const kPasswords =
    "# users\n"
    "alice:$7$101$K6G40WSnnlRR+PVW$TASp3ac5ZBdCC1EjFh5mQsYV/RnI7kpCXhu/OgfhlZ0hsIzPLbDxx+KMIXQeCGIy1U5xIrLgLUQ2dcYp1hbcEA==\n"
    "\n"
    "carol:$6$UzHSPgyVBv32gOgL$6zX94IKJMBYuD0CHNR7CQ8pOf96bLaeZ0vqd9MwsWbb1UqsZmqLT4iZjp9P+uVugFpKPv+PsBDK0PMVNMCrR8g==\r\n";

std::optional<std::vector<std::uint8_t>> pw(std::string_view s) { return std::vector<std::uint8_t>(s.begin(), s.end()); }

std::string error_of(std::string_view text) {
  try {
    (void)PasswordFile::parse(text, "pw.txt");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::invalid_argument);
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("password_file: mosquitto_passwd's $7$ and $6$ lines") {
  const auto file = PasswordFile::parse(kPasswords, "pw.txt");
  CHECK(file->size() == 2);
  CHECK(file->verify("alice", pw("secret")));
  CHECK_FALSE(file->verify("alice", pw("Secret")));
  CHECK_FALSE(file->verify("alice", std::nullopt));
  CHECK(file->verify("carol", pw("carolpw")));
  CHECK_FALSE(file->verify("bob", pw("secret")));
  CHECK_FALSE(file->verify("", pw("")));
}

TEST_CASE("password_file: bad lines refuse the file, naming the line and never the hash") {
  CHECK(error_of("alice\n").starts_with("pw.txt:1: not a 'USER:HASH' line"));
  CHECK(error_of("# x\n:$6$UzHSPgyVBv32gOgL$AAAA\n").starts_with("pw.txt:2: empty user name"));
  CHECK(error_of("alice:secret\n").starts_with("pw.txt:1: password hash is neither"));
  const std::string twice = std::string(kPasswords) + "alice:$6$UzHSPgyVBv32gOgL$6zX94IKJMBYuD0CHNR7CQ8pOf96bLaeZ0vqd9Mws"
                                                      "Wbb1UqsZmqLT4iZjp9P+uVugFpKPv+PsBDK0PMVNMCrR8g==\n";
  CHECK(error_of(twice).starts_with("pw.txt:5: user named twice"));
  CHECK(error_of("bob:$7$101$K6G40WSnnlRR+PVW$AAAA\n").find("K6G40") == std::string::npos);
}

TEST_CASE("acl_file errors name the file and line") {
  try {
    (void)parse_acl_file("user a\ntopic read a/#\ntopic bogus a/b\n", "acl.txt");
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).starts_with("acl.txt:3: unknown access 'bogus'"));
  }
}

TEST_CASE("config: password_file and acl_file are global unless per_listener_settings; anonymous default") {
  const auto global = parse_mosquitto_config("listener 1883 127.0.0.1\npassword_file /etc/m/pw file\n"
                                             "listener 1884 127.0.0.1\nacl_file /etc/m/acl\n",
                                             "m.conf");
  CHECK(global.auth.password_file == "/etc/m/pw file");
  CHECK(global.auth.acl_file == "/etc/m/acl");
  CHECK(global.auth_files(global.listeners[1]).password_file == "/etc/m/pw file");
  CHECK_FALSE(global.anonymous_allowed(global.listeners[0]));  // loopback, but a password file applies

  const auto per = parse_mosquitto_config("per_listener_settings true\nlistener 1883 127.0.0.1\n"
                                          "listener 1884 127.0.0.1\nacl_file /etc/m/acl\nallow_anonymous true\n",
                                          "m.conf");
  CHECK(per.auth_files(per.listeners[0]).empty());
  CHECK(per.auth_files(per.listeners[1]).acl_file == "/etc/m/acl");
  CHECK(per.anonymous_allowed(per.listeners[0]));  // loopback, nothing applies: the old default
  CHECK(per.anonymous_allowed(per.listeners[1]));  // said so
  CHECK_THROWS_AS(parse_mosquitto_config("per_listener_settings true\nacl_file /x\n", "m.conf"), Error);
}
