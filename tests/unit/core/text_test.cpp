// The one escaper for text from outside (mqttpki/text.hpp), which pki's error messages and the broker's log
// lines both use, and the UTF-8 decoding and control-character rule pki's name checks build on.

#include <mqttpki/text.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace std::string_literals;
using mqttpki::printable;

TEST_CASE("printable escapes what would break a log line or a terminal, byte by byte as \\xHH") {
  CHECK(printable("pi1\nx") == "pi1\\x0Ax");
  CHECK(printable("pi1\r\nFAKE: admin connected") == "pi1\\x0D\\x0AFAKE: admin connected");
  CHECK(printable("victim\0x"s) == "victim\\x00x");
  CHECK(printable("\x1b[31mred") == "\\x1B[31mred");
  CHECK(printable("del\x7f") == "del\\x7F");
  CHECK(printable("c1\xc2\x85") == "c1\\xC2\\x85");  // U+0085 (NEL): a C1 control, both of its bytes shown
  CHECK(printable("a\xff") == "a\\xFF");
  CHECK(printable("cut\xe2\x82") == "cut\\xE2\\x82");  // a sequence cut short: each byte shown
}

TEST_CASE("printable leaves UTF-8 text as it is, and shows a tab as \\x09") {
  CHECK(printable("sensors/pi1/temp") == "sensors/pi1/temp");
  CHECK(printable("Küche Wohnzimmer 温度 🌡") == "Küche Wohnzimmer 温度 🌡");
  CHECK(printable("") == "");
  CHECK(printable("tab\there") == "tab\\x09here");
}

TEST_CASE("utf8_at decodes RFC 3629 UTF-8 and refuses overlong forms, surrogates and cut sequences") {
  char32_t cp = 0;
  CHECK(mqttpki::utf8_at("A", 0, cp) == 1);
  CHECK(cp == U'A');
  CHECK(mqttpki::utf8_at("ü", 0, cp) == 2);
  CHECK(cp == U'ü');
  CHECK(mqttpki::utf8_at("温", 0, cp) == 3);
  CHECK(cp == U'温');
  CHECK(mqttpki::utf8_at("🌡", 0, cp) == 4);
  CHECK(cp == U'🌡');
  CHECK(mqttpki::utf8_at("\xc0\xaf", 0, cp) == 0);      // overlong '/'
  CHECK(mqttpki::utf8_at("\xed\xa0\x80", 0, cp) == 0);  // a surrogate
  CHECK(mqttpki::utf8_at("\xf4\x90\x80\x80", 0, cp) == 0);  // above U+10FFFF
  CHECK(mqttpki::utf8_at("\xe2\x82", 0, cp) == 0);      // cut short
  CHECK(mqttpki::is_control(U'\n'));
  CHECK(mqttpki::is_control(U'\x7f'));
  CHECK(mqttpki::is_control(U'\x85'));
  CHECK_FALSE(mqttpki::is_control(U'ü'));
}
