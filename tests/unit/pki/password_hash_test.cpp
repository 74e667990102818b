// Mosquitto password_file hashes; the fixed lines were written by the real mosquitto_passwd 2.0.11
// (`mosquitto_passwd -b` and `mosquitto_passwd -H sha512 -b`).
#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/password_hash.hpp>

#include <catch2/catch.hpp>

using namespace mqttpki;
using namespace mqttpki::pki;

namespace {
ByteView text(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }
}  // namespace

TEST_CASE("password hash: $7$ (PBKDF2-SHA512) and $6$ (SHA-512) from mosquitto_passwd", "[password]") {
  const auto v7 = parse_password_hash("$7$101$K6G40WSnnlRR+PVW$TASp3ac5ZBdCC1EjFh5mQsYV/RnI7kpCXhu/OgfhlZ0hsIzPLbDxx+"
                                      "KMIXQeCGIy1U5xIrLgLUQ2dcYp1hbcEA==");
  CHECK(v7.kind == PasswordHash::Kind::pbkdf2_sha512);
  CHECK(v7.iterations == 101);
  CHECK(v7.salt.size() == 12);
  CHECK(password_matches(v7, text("secret")));
  CHECK_FALSE(password_matches(v7, text("secret ")));
  CHECK_FALSE(password_matches(v7, text("")));
  const auto v6 = parse_password_hash("$6$UzHSPgyVBv32gOgL$6zX94IKJMBYuD0CHNR7CQ8pOf96bLaeZ0vqd9MwsWbb1UqsZmqLT4iZjp9P+"
                                      "uVugFpKPv+PsBDK0PMVNMCrR8g==");
  CHECK(v6.kind == PasswordHash::Kind::sha512);
  CHECK(password_matches(v6, text("carolpw")));
  CHECK_FALSE(password_matches(v6, text("carolpW")));
}

TEST_CASE("password hash: make_password_hash round-trips", "[password]") {
  const std::string h = make_password_hash(text("pw"), text("0123456789ab"), 1000);
  CHECK(h.starts_with("$7$1000$MDEyMzQ1Njc4OWFi$"));
  CHECK(password_matches(parse_password_hash(h), text("pw")));
}

TEST_CASE("password hash: malformed hashes are refused without echoing them", "[password]") {
  const std::string good_hash = "TASp3ac5ZBdCC1EjFh5mQsYV/RnI7kpCXhu/OgfhlZ0hsIzPLbDxx+KMIXQeCGIy1U5xIrLgLUQ2dcYp1hbcEA==";
  for (const std::string& bad : {std::string("plaintext"), std::string("$7$101$K6G40WSnnlRR+PVW"),
                                "$7$0$K6G40WSnnlRR+PVW$" + good_hash, "$7$99999999999$K6G40WSnnlRR+PVW$" + good_hash,
                                "$7$x$K6G40WSnnlRR+PVW$" + good_hash, "$7$101$K6G4*WSnnlRR+PVW$" + good_hash,
                                "$7$101$K6G40WSnnlRR+PV$" + good_hash, std::string("$7$101$K6G40WSnnlRR+PVW$AAAA"),
                                "$5$K6G40WSnnlRR+PVW$" + good_hash, std::string("$6$a$b$c$d")}) {
    try {
      (void)parse_password_hash(bad);
      FAIL("accepted " << bad);
    } catch (const Error& e) {
      CHECK(e.code() == Errc::bad_format);
      CHECK(std::string(e.what()).find("K6G40") == std::string::npos);
    }
  }
}
