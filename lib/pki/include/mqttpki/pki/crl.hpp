#pragma once
// Certificate revocation lists.

#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/types.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::pki {

// RFC 5280 CRLReason codes (7 is unused).
enum class RevocationReason {
  unspecified = 0,
  key_compromise = 1,
  ca_compromise = 2,
  affiliation_changed = 3,
  superseded = 4,
  cessation_of_operation = 5,
  certificate_hold = 6,
  remove_from_crl = 8,
  privilege_withdrawn = 9,
  aa_compromise = 10,
};
// "unspecified", "keyCompromise", "CACompromise", "affiliationChanged", "superseded",
// "cessationOfOperation", "certificateHold", "removeFromCRL", "privilegeWithdrawn", "AACompromise"
// (RFC 5280 spellings, as `openssl ca -crl_reason` takes them).
std::string_view to_string(RevocationReason reason) noexcept;
// The same names, case-insensitive, also with '-' or '_' between words ("key-compromise").
RevocationReason parse_revocation_reason(std::string_view text);

struct RevokedEntry {
  std::string serial_hex;  // any form normalize_serial() accepts
  TimePoint revoked_at;
  RevocationReason reason = RevocationReason::unspecified;
};

struct CrlOptions {
  std::vector<RevokedEntry> revoked;
  std::uint64_t crl_number = 1;
  TimePoint this_update = std::chrono::system_clock::now();
  TimePoint next_update;  // must be after this_update
};

// A v2 CRL signed by the CA (digest as for issuing), with cRLNumber and authorityKeyIdentifier, entries
// with a reasonCode extension unless unspecified. Returns PEM ("BEGIN X509 CRL"). Throws Errc::mismatch
// if the key does not match the CA certificate, Errc::invalid_argument for bad serials or times.
std::string make_crl(const Certificate& ca_cert, const PrivateKey& ca_key, const CrlOptions& options);

// What a CRL says, read back (for renewal, `list` and `inspect`).
struct CrlInfo {
  TimePoint this_update{};
  std::optional<TimePoint> next_update;
  std::optional<std::uint64_t> number;
  std::string issuer;                        // "CN=..." (RFC 2253)
  std::vector<std::string> revoked_serials;  // as Certificate::serial_hex() prints them
};

// Reads a CRL (PEM "BEGIN X509 CRL" or DER). Errc::bad_format if it is not one.
CrlInfo read_crl_info(ByteView data);
inline CrlInfo read_crl_info(std::string_view data) { return read_crl_info(as_bytes(data)); }

// True when the CRL (PEM or DER) names the CA certificate's subject as its issuer and its signature verifies
// with the CA's key. Errc::bad_format if it is not a CRL.
[[nodiscard]] bool crl_issued_by(ByteView data, const Certificate& ca);

}  // namespace mqttpki::pki
