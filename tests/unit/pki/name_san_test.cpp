#include "helpers.hpp"

using namespace pki_test;

TEST_CASE("Name::build encodes C, O, CN and prints RFC 4514 order", "[name]") {
  Name n = Name::build("pi1", "Home", "de");
  CHECK(n.to_string() == "CN=pi1,O=Home,C=DE");
  REQUIRE(n.entries().size() == 3);
  CHECK(n.entries()[0] == NameEntry{"C", "DE"});
  CHECK(n.entries()[1] == NameEntry{"O", "Home"});
  CHECK(n.entries()[2] == NameEntry{"CN", "pi1"});
  CHECK(n.common_name() == "pi1");
  CHECK(n.organization() == "Home");
  CHECK(n.country() == "DE");
  CHECK(Name::build("pi1").to_string() == "CN=pi1");
  CHECK(Name::build("pi1", "Home").to_string() == "CN=pi1,O=Home");
  CHECK_FALSE(Name::build("pi1").organization());
}

TEST_CASE("Name keeps UTF-8 and escapes specials", "[name]") {
  Name n = Name::build("Küche", "Zuhause, GmbH");
  CHECK(n.common_name() == "Küche");
  CHECK(n.to_string() == "CN=Küche,O=Zuhause\\, GmbH");
  CHECK(Name::parse(n.to_string()) == n);
}

TEST_CASE("Name validation", "[name]") {
  REQUIRE_ERROR(Name::build(""), Errc::invalid_argument, "CN");
  REQUIRE_ERROR(Name::build("pi1", "Home", "DEU"), Errc::invalid_argument, "2 letters");
  REQUIRE_ERROR(Name::build("pi1", "Home", "D1"), Errc::invalid_argument, "2 letters");
  REQUIRE_ERROR(Name::build(std::string(65, 'a')), Errc::invalid_argument, "64");
  CHECK_NOTHROW(Name::build(std::string(64, 'a')));
  REQUIRE_ERROR(Name::build("a\nb"), Errc::invalid_argument, "control");
  REQUIRE_ERROR(Name::build("\xff\xfe"), Errc::invalid_argument, "UTF-8");
}

TEST_CASE("Name::parse", "[name]") {
  Name n = Name::parse("CN=pi1, O=Home ,C=de");
  CHECK(n.to_string() == "CN=pi1,O=Home,C=DE");
  CHECK(n == Name::build("pi1", "Home", "DE"));
  CHECK(Name::parse("cn=a\\,b").common_name() == "a,b");
  CHECK(Name::parse("CN=x,OU=Lab,L=Berlin,ST=BE").to_string() == "CN=x,OU=Lab,L=Berlin,ST=BE");
  REQUIRE_ERROR(Name::parse("O=Home"), Errc::invalid_argument, "CN");
  REQUIRE_ERROR(Name::parse("CN=x,FOO=y"), Errc::invalid_argument, "unknown attribute");
  REQUIRE_ERROR(Name::parse("pi1"), Errc::invalid_argument, "e.g. CN=pi1");
  REQUIRE_ERROR(Name::parse("CN="), Errc::invalid_argument, "empty");
}

TEST_CASE("Name equality, DER round trip, empty name", "[name]") {
  Name a = Name::build("pi1", "Home");
  CHECK(Name::from_der(a.der()) == a);
  CHECK(Name::from_der(a.der()).der() == a.der());
  CHECK(Name::build("PI1", "home") == a);  // X.509 compares case-insensitively
  CHECK_FALSE(Name::build("pi2", "Home") == a);
  Name empty;
  CHECK(empty.empty());
  CHECK(empty.to_string().empty());
  CHECK_FALSE(a.empty());
  Bytes junk{0x30, 0x05, 0x01};
  REQUIRE_ERROR(Name::from_der(junk), Errc::bad_format);
}

TEST_CASE("parse_san accepts the four types", "[san]") {
  CHECK(parse_san("DNS:mqtt.example.com") == GeneralName{GeneralName::Type::dns, "mqtt.example.com"});
  CHECK(parse_san("dns:MQTT.Example.COM").value == "mqtt.example.com");
  CHECK(parse_san("DNS:localhost").value == "localhost");
  CHECK(parse_san("DNS:*.example.com").value == "*.example.com");
  CHECK(parse_san("DNS:xn--bcher-kva.example").value == "xn--bcher-kva.example");
  CHECK(parse_san("IP:1.2.3.4") == GeneralName{GeneralName::Type::ip, "1.2.3.4"});
  CHECK(parse_san("IP:::1") == GeneralName{GeneralName::Type::ip, "::1"});
  CHECK(parse_san("ip:0:0:0:0:0:0:0:1").value == "::1");
  CHECK(parse_san("IP:2001:DB8::1").value == "2001:db8::1");
  CHECK(parse_san("URI:spiffe://home/pi1") == GeneralName{GeneralName::Type::uri, "spiffe://home/pi1"});
  CHECK(parse_san("email:pi@Example.com") == GeneralName{GeneralName::Type::email, "pi@example.com"});
  CHECK(parse_san("EMAIL:pi@example.com").type == GeneralName::Type::email);
}

TEST_CASE("GeneralName::to_string round-trips through parse_san", "[san]") {
  for (const char* s : {"DNS:mqtt.example.com", "IP:203.0.113.5", "IP:::1", "URI:urn:dev:pi1", "email:a@b.example"}) {
    CHECK(parse_san(s).to_string() == s);
    CHECK(parse_san(parse_san(s).to_string()) == parse_san(s));
  }
}

TEST_CASE("parse_san refuses bad syntax and shows an accepted example", "[san]") {
  for (const char* bad : {"mqtt.example.com", "DNS:", "DNS:-bad.example", "DNS:bad-.example", "DNS:a..b",
                          "DNS:under_score.example", "DNS:trailing.", "DNS:1.2.3.4", "DNS:*.com", "DNS:a.*.example.com",
                          "DNS:*", "DNS:has space", "IP:1.2.3", "IP:1.2.3.256", "IP:::g", "IP:localhost",
                          "URI:nocolon", "URI:has space:x", "URI:http:", "URI:1http://x", "email:noat",
                          "email:@example.com", "email:a@", "email:a b@example.com", "FOO:bar", ":x"}) {
    INFO(bad);
    REQUIRE_ERROR(parse_san(bad), Errc::invalid_argument, "DNS:mqtt.example.com");
  }
  REQUIRE_ERROR(parse_san(std::string("DNS:") + std::string(64, 'a') + ".example"), Errc::invalid_argument, "63");
  REQUIRE_ERROR(parse_san("DNS:1.2.3.4"), Errc::invalid_argument, "IP:1.2.3.4");
}
