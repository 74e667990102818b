// The small text parsers behind command-line flags: parse_duration (--days/--within style "30d"), parse_san
// (--san TYPE:value), normalize_serial, parse_key_type and parse_revocation_reason. Bad input is an
// mqttpki::Error; what parses round-trips. (The CA's records are SQLite's to parse since ca.db.)
#include <mqttpki/pki/crl.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/san.hpp>
#include <mqttpki/pki/util.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

const char* const fuzz_target_name = "fuzz_parsers";

using namespace mqttpki;
using fuzz_support::bug;
using fuzz_support::expect_error_or_ok;
using namespace mqttpki::pki;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  expect_error_or_ok([&] {
    const auto s = parse_duration(text);
    if (s.count() < 0) bug("negative duration", text);
  });
  expect_error_or_ok([&] {
    const GeneralName san = parse_san(text);
    if (san.type == GeneralName::Type::other) bug("parse_san returned Type::other", text);
    const std::string printed = san.to_string();
    if (!(parse_san(printed) == san)) bug("SAN does not round-trip", printed);
  });
  expect_error_or_ok([&] {
    const std::string serial = normalize_serial(text);
    if (normalize_serial(serial) != serial) bug("serial normalisation is not idempotent", serial);
  });
  expect_error_or_ok([&] { (void)to_string(parse_key_type(text)); });
  expect_error_or_ok([&] { (void)to_string(parse_revocation_reason(text)); });
  return 0;
}
