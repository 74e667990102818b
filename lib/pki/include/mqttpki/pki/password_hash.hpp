#pragma once
// The password hashes of a Mosquitto password_file, as the real mosquitto_passwd writes them:
//   $7$ITERATIONS$SALT$HASH  PBKDF2-HMAC-SHA512 (mosquitto_passwd 2.0's default, 101 iterations, 12-byte salt)
//   $6$SALT$HASH             SHA-512 over the password then the salt (Mosquitto 1.6 and earlier)
// SALT and HASH are base64. Pure: text and bytes in, a verdict out; the file itself is read in lib/net.

#include <mqttpki/pki/types.hpp>

#include <string>
#include <string_view>

namespace mqttpki::pki {

struct PasswordHash {
  enum class Kind { sha512, pbkdf2_sha512 };
  Kind kind = Kind::pbkdf2_sha512;
  unsigned iterations = 0;  // pbkdf2_sha512 only
  Bytes salt;
  Bytes hash;  // 64 bytes
};

// Throws Error(bad_format) saying what is wrong, without repeating the text.
[[nodiscard]] PasswordHash parse_password_hash(std::string_view text);

// Derives the hash of `password` with the same kind, salt and iterations and compares in constant time.
[[nodiscard]] bool password_matches(const PasswordHash& stored, ByteView password);

// "$7$ITERATIONS$SALT$HASH" for `password` (tests, and a dummy check that keeps unknown users as slow as
// known ones).
[[nodiscard]] std::string make_password_hash(ByteView password, ByteView salt, unsigned iterations);

}  // namespace mqttpki::pki
