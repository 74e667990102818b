#pragma once
// Small parsers and formatters shared by the CLI and the store.

#include <mqttpki/pki/types.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace mqttpki::pki {

// "30d", "12h", "90m", "45s", "2w" -> seconds. A non-negative integer followed by exactly one unit
// (s, m, h, d, w; case-insensitive). Throws Errc::invalid_argument with an accepted example otherwise.
std::chrono::seconds parse_duration(std::string_view text);

// "2025-03-01T12:34:56Z" (ISO 8601, UTC, seconds precision).
std::string format_time(TimePoint t);
// "2025-03-01" (UTC).
std::string format_date(TimePoint t);

// Whole days from `now` until `until`, rounded toward negative infinity (so an expired certificate
// gives a negative number, and one expiring in 3 hours gives 0).
long days_between(TimePoint now, TimePoint until);

// Normalize a serial number given in hex (colons and a "0x" prefix allowed, any case) to the form
// Certificate::serial_hex() uses: upper-case hex, no leading zero bytes. Throws Errc::invalid_argument
// if it is not hex, is zero, or is longer than 20 bytes (RFC 5280).
std::string normalize_serial(std::string_view text);

// SHA-256 of `data` as colon-separated upper-case hex ("AB:01:..."), the form of every fingerprint mqttpki
// prints or stores.
std::string sha256_fingerprint(ByteView data);

// Overwrites a secret held in memory (a key's PEM, a passphrase) before it is freed (OPENSSL_cleanse, which
// the compiler may not optimise away).
void secure_erase(std::string& secret) noexcept;

// A fresh serial: 20 random bytes with the top bit cleared and a non-zero first byte, so it is positive,
// encodes in exactly 20 octets, and carries at least 152 random bits. Upper-case hex, 40 digits.
// A store that wants uniqueness can draw, check its index, and pass the result as `serial` to the
// issuing functions (see ca.hpp).
std::string random_serial(const RandomSource& random = {});

// `count` random bytes (from `random`, else RAND_bytes) as lower-case hex: nonces and request ids.
std::string random_hex(std::size_t count, const RandomSource& random = {});

}  // namespace mqttpki::pki
