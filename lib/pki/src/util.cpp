#include <mqttpki/error.hpp>
#include <mqttpki/pki/util.hpp>

#include "ossl.hpp"

#include <openssl/rand.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <ctime>
#include <limits>

namespace mqttpki::pki {

std::chrono::seconds parse_duration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error(Errc::invalid_argument, "invalid duration \"" + std::string(text) + "\": " + std::string(why) +
                                             " (e.g. 30d, 12h, 90m, 45s or 2w)");
  };
  if (text.empty()) throw bad("empty");
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (n > 100'000'000) throw bad("too large");
    ++i;
  }
  if (i == 0) throw bad("expected a number followed by a unit");
  if (i + 1 != text.size()) throw bad(i == text.size() ? "missing unit" : "expected one unit letter after the number");
  std::uint64_t unit = 0;
  switch (std::tolower(static_cast<unsigned char>(text[i]))) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7 * 86400;
      break;
    default:
      throw bad("unknown unit");
  }
  std::uint64_t secs = n * unit;
  if (secs > 200ULL * 366 * 86400) throw bad("too large");
  return std::chrono::seconds(static_cast<std::int64_t>(secs));
}

namespace {
std::string format_with(TimePoint t, const char* fmt) {
  std::time_t secs = ossl::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 64> buf{};
  std::size_t n = std::strftime(buf.data(), buf.size(), fmt, &tm);
  return std::string(buf.data(), n);
}
}  // namespace

std::string format_time(TimePoint t) { return format_with(t, "%Y-%m-%dT%H:%M:%SZ"); }
std::string format_date(TimePoint t) { return format_with(t, "%Y-%m-%d"); }

long days_between(TimePoint now, TimePoint until) {
  return static_cast<long>(std::chrono::floor<std::chrono::days>(until - now).count());
}

std::string normalize_serial(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error(Errc::invalid_argument, "invalid serial \"" + std::string(text) + "\": " + std::string(why) +
                                             " (expected hex such as 3A:F2:01 or 3AF201)");
  };
  std::string_view s = text;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  std::string digits;
  for (char c : s) {
    if (c == ':') continue;
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) throw bad("not hex");
    digits += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (digits.empty()) throw bad("empty");
  std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) throw bad("zero is not a valid serial");
  digits.erase(0, first);
  if (digits.size() % 2 != 0) digits.insert(digits.begin(), '0');
  if (digits.size() > 40) throw bad("longer than 20 bytes");
  return digits;
}

std::string sha256_fingerprint(ByteView data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  ossl::check(EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) == 1, "SHA-256");
  return ossl::colon_hex(md.data(), len);
}

void secure_erase(std::string& secret) noexcept { OPENSSL_cleanse(secret.data(), secret.size()); }

namespace {

void fill_random(std::span<std::uint8_t> bytes, const RandomSource& random) {
  if (random) {
    random(bytes);
  } else if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw ossl::openssl_error("RAND_bytes");
  }
}

// 20 bytes from `random` (or RAND_bytes), top bit cleared, first byte non-zero.
std::array<std::uint8_t, 20> random_serial_bytes(const RandomSource& random) {
  std::array<std::uint8_t, 20> bytes{};
  fill_random(bytes, random);
  bytes[0] &= 0x7f;              // positive
  if (bytes[0] == 0) bytes[0] = 0x01;  // exactly 20 octets, no leading zero to strip
  return bytes;
}

}  // namespace

std::string random_hex(std::size_t count, const RandomSource& random) {
  std::vector<std::uint8_t> bytes(count);
  fill_random(bytes, random);
  std::string hex = ossl::colon_hex(bytes.data(), bytes.size());
  std::erase(hex, ':');
  for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return hex;
}

std::string random_serial(const RandomSource& random) {
  const std::array<std::uint8_t, 20> bytes = random_serial_bytes(random);
  std::string hex = ossl::colon_hex(bytes.data(), bytes.size());
  std::erase(hex, ':');
  return hex;
}

}  // namespace mqttpki::pki
