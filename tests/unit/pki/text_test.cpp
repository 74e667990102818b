// Names in certificates: valid UTF-8 without control characters, and bounded SANs (pki/text.hpp).

#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/text.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace mqttpki;
using namespace std::string_literals;

TEST_CASE("text_problem accepts UTF-8 names and refuses control characters and invalid bytes") {
  CHECK_FALSE(pki::text_problem("sensor-1").has_value());
  CHECK_FALSE(pki::text_problem("Küche Wohnzimmer 温度 🌡").has_value());
  CHECK(pki::text_problem("victim\0x"s) == "a control character (U+0000)");
  CHECK(pki::text_problem("pi1\nFAKE LOG LINE") == "a control character (U+000A)");
  CHECK(pki::text_problem("\x1b[31m") == "a control character (U+001B)");
  CHECK(pki::text_problem("del\x7f") == "a control character (U+007F)");
  CHECK(pki::text_problem("c1\xc2\x85") == "a control character (U+0085)");
  CHECK(pki::text_problem("bad\xff") == "invalid UTF-8 at byte 4");
  CHECK(pki::text_problem("overlong\xc0\xaf") == "invalid UTF-8 at byte 9");
  CHECK(pki::text_problem("surrogate\xed\xa0\x80") == "invalid UTF-8 at byte 10");
  CHECK(pki::text_problem("cut\xe2\x82") == "invalid UTF-8 at byte 4");
}

TEST_CASE("check_names refuses a control character in the subject or a SAN, and SAN floods") {
  CHECK_NOTHROW(pki::check_names(pki::Name::build("pi1", "Home"), {pki::parse_san("DNS:mqtt.example.com")}));
  try {
    pki::check_names(pki::Name::build("pi1"), {pki::GeneralName{pki::GeneralName::Type::dns, "a\x1b.example"}});
    FAIL("expected policy");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::policy);
    CHECK(std::string(e.what()).find("a\\x1B.example") != std::string::npos);
  }
  std::vector<pki::GeneralName> flood;
  for (int i = 0; i < 101; ++i) flood.push_back(pki::parse_san("DNS:h" + std::to_string(i) + ".example.com"));
  CHECK_THROWS_AS(pki::check_names(pki::Name::build("h0.example.com"), flood), Error);
  flood.resize(100);
  CHECK_NOTHROW(pki::check_names(pki::Name::build("h0.example.com"), flood));
  std::vector<pki::GeneralName> long_names;
  for (int i = 0; i < 80; ++i)
    long_names.push_back(pki::GeneralName{pki::GeneralName::Type::uri, "urn:x:" + std::string(250, 'a')});
  CHECK_THROWS_AS(pki::check_names(pki::Name::build("x"), long_names), Error);
}
