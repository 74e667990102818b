#pragma once
// Internal: an encrypted private key names its own key-derivation cost, so a hostile or corrupted key file
// could make any command that loads it spin for hours (2^31 PBKDF2 iterations) before the passphrase is
// even checked. The limits below are far above what any tool writes (mqttpki: 200,000 PBKDF2 iterations or
// scrypt N=16384 r=8 p=1; OpenSSL's default: 2,048 iterations) and keep the worst case to seconds.

#include <mqttpki/pki/types.hpp>

#include <cstdint>

namespace mqttpki::pki::detail {

inline constexpr std::uint64_t kMaxPbkdf2Iterations = 10'000'000;
inline constexpr std::uint64_t kMaxScryptWork = std::uint64_t{1} << 22;  // N * r * p (mqttpki writes 2^17)
// OpenSSL's SCRYPT_MAX_MEM, the default memory cap of the scrypt its PEM and PKCS#8 decoders run.
inline constexpr std::uint64_t kOpensslScryptMaxMem = std::uint64_t{32} << 20;

// For DER that is an encrypted PKCS#8 key (X509_SIG): throws Errc::bad_format naming the cost and the fix
// when its PBES1/PBES2 (PBKDF2 or scrypt) parameters ask for more than the limits, or for scrypt memory over
// OpenSSL's cap (which would fail as a wrong passphrase). Anything else: no-op
// (the decoder reports damaged input itself).
void check_kdf_cost(ByteView der);

}  // namespace mqttpki::pki::detail
