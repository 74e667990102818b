#pragma once
// Basic vocabulary of mqttpki::pki: byte buffers, time points and the random source for serials.
// The library is pure: bytes and std::chrono in, bytes out. It never opens a file; callers prefix
// error messages with the file name ("ca.crt: expected a certificate ..."), so messages are written
// to read well after "FILE: ".

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::pki {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using TimePoint = std::chrono::system_clock::time_point;

// Fills the buffer with random bytes. An empty RandomSource means OpenSSL's RAND_bytes.
using RandomSource = std::function<void(std::span<std::uint8_t>)>;

// View the bytes of a string (e.g. a PEM text) without copying.
inline ByteView as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// What a blob of PEM or DER holds; see detect_kind().
enum class ObjectKind {
  certificate,
  certificate_request,
  private_key,            // PKCS#8, SEC1 EC or traditional RSA, unencrypted
  encrypted_private_key,  // encrypted PKCS#8, or legacy PEM with "Proc-Type: 4,ENCRYPTED"
  public_key,
  crl,
  empty,
  unknown,
};

// Classify PEM (first meaningful block; an "EC PARAMETERS" block is skipped) or DER input. Never throws
// for bad input: returns ObjectKind::unknown.
ObjectKind detect_kind(ByteView data);
// "a certificate", "a private key", ... for messages.
std::string_view describe_kind(ObjectKind kind) noexcept;

namespace detail {
struct Access;  // internal: lets the implementation reach the OpenSSL objects behind the value types
}

}  // namespace mqttpki::pki
