#include "fixtures.hpp"
#include "helpers.hpp"

#include <algorithm>
#include <set>

using namespace pki_test;

TEST_CASE("parse_duration accepts each unit", "[util]") {
  CHECK(parse_duration("30d") == std::chrono::hours(24 * 30));
  CHECK(parse_duration("12h") == std::chrono::hours(12));
  CHECK(parse_duration("90m") == std::chrono::minutes(90));
  CHECK(parse_duration("45s") == std::chrono::seconds(45));
  CHECK(parse_duration("2w") == std::chrono::hours(24 * 14));
  CHECK(parse_duration("0d") == std::chrono::seconds(0));
  CHECK(parse_duration("7D") == std::chrono::hours(24 * 7));
}

TEST_CASE("parse_duration refuses bad input with an example", "[util]") {
  for (const char* bad : {"", "30", "d", "3x", "-1d", "1.5d", "30 d", " 30d", "30dd", "99999999999d"}) {
    INFO(bad);
    REQUIRE_ERROR(parse_duration(bad), Errc::invalid_argument, "e.g. 30d");
  }
}

TEST_CASE("time formatting and day counting", "[util]") {
  CHECK(format_time(fixed_now()) == "2026-01-15T12:00:00Z");
  CHECK(format_date(fixed_now()) == "2026-01-15");
  CHECK(format_time(fixed_now() + 999ms) == "2026-01-15T12:00:00Z");
  CHECK(days_between(fixed_now(), fixed_now() + std::chrono::hours(24 * 10)) == 10);
  CHECK(days_between(fixed_now(), fixed_now() + 3h) == 0);
  CHECK(days_between(fixed_now(), fixed_now() - 3h) == -1);
  CHECK(days_between(fixed_now(), fixed_now() - std::chrono::hours(48)) == -2);
}

TEST_CASE("normalize_serial", "[util]") {
  CHECK(normalize_serial("3a:f2:01") == "3AF201");
  CHECK(normalize_serial("0x00ff") == "FF");
  CHECK(normalize_serial("abc") == "0ABC");
  CHECK(normalize_serial("0001") == "01");
  REQUIRE_ERROR(normalize_serial("0"), Errc::invalid_argument, "zero");
  REQUIRE_ERROR(normalize_serial("xyz"), Errc::invalid_argument, "not hex");
  REQUIRE_ERROR(normalize_serial(""), Errc::invalid_argument);
  REQUIRE_ERROR(normalize_serial(std::string(42, 'A')), Errc::invalid_argument, "20 bytes");
}

TEST_CASE("random_serial is positive, 20 octets, random", "[util][serial]") {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string s = random_serial();
    REQUIRE(s.size() == 40);
    int first = std::stoi(s.substr(0, 2), nullptr, 16);
    CHECK(first >= 0x01);
    CHECK(first <= 0x7F);
    CHECK(normalize_serial(s) == s);
    seen.insert(s);
  }
  CHECK(seen.size() == 200);
}

TEST_CASE("random_serial takes its bytes from the RandomSource", "[util][serial]") {
  auto fill = [](std::uint8_t v) {
    return RandomSource([v](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), v); });
  };
  CHECK(random_serial(fill(0xFF)) == "7F" + std::string(38, 'F'));
  CHECK(random_serial(fill(0x00)) == "01" + std::string(38, '0'));
  std::string rest;
  for (int i = 0; i < 19; ++i) rest += "80";
  CHECK(random_serial(fill(0x80)) == "01" + rest);  // top bit cleared leaves 00, which becomes 01
}

TEST_CASE("detect_kind", "[util]") {
  auto ca = make_test_ca();
  auto key = PrivateKey::generate(KeyType::p256);
  auto csr = Csr::create(key, Name::build("x"));
  CHECK(detect_kind(as_bytes(ca.cert.to_pem())) == ObjectKind::certificate);
  CHECK(detect_kind(ca.cert.to_der()) == ObjectKind::certificate);
  CHECK(detect_kind(as_bytes(key.to_pem())) == ObjectKind::private_key);
  CHECK(detect_kind(key.to_der()) == ObjectKind::private_key);
  CHECK(detect_kind(as_bytes(key.to_pem("pw"))) == ObjectKind::encrypted_private_key);
  CHECK(detect_kind(as_bytes(key.public_key().to_pem())) == ObjectKind::public_key);
  CHECK(detect_kind(key.public_key().der()) == ObjectKind::public_key);
  CHECK(detect_kind(as_bytes(csr.to_pem())) == ObjectKind::certificate_request);
  CHECK(detect_kind(csr.to_der()) == ObjectKind::certificate_request);
  CHECK(detect_kind(as_bytes(fixtures::ec_with_params)) == ObjectKind::private_key);
  CHECK(detect_kind(as_bytes("")) == ObjectKind::empty);
  CHECK(detect_kind(as_bytes("  \n")) == ObjectKind::empty);
  CHECK(detect_kind(as_bytes("hello world")) == ObjectKind::unknown);
  CHECK(detect_kind(as_bytes("-----BEGIN CERTIFICATE-----\nMIIB")) == ObjectKind::unknown);
  CrlOptions co;
  co.this_update = fixed_now();
  co.next_update = fixed_now() + 24h * 7;
  CHECK(detect_kind(as_bytes(make_crl(ca.cert, ca.key, co))) == ObjectKind::crl);
  CHECK(describe_kind(ObjectKind::certificate) == "a certificate");
}
