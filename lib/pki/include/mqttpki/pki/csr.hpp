#pragma once
// Certificate signing requests (PKCS#10).

#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/name.hpp>
#include <mqttpki/pki/san.hpp>
#include <mqttpki/pki/types.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::pki {

class Csr {
 public:
  // A CSR for `subject` with the SANs as a requested subjectAltName extension (none if empty), signed
  // with `key`: SHA-256, SHA-384 for P-384, no digest for Ed25519.
  static Csr create(const PrivateKey& key, const Name& subject, const std::vector<GeneralName>& sans = {});

  // PEM "BEGIN CERTIFICATE REQUEST" (or "NEW CERTIFICATE REQUEST") or DER. Does NOT check the signature
  // (see verify_signature()). Throws Errc::bad_format ("expected a certificate request (PEM 'BEGIN
  // CERTIFICATE REQUEST' or DER), found a private key"; "truncated or damaged PEM").
  static Csr load(ByteView data);
  static Csr load(std::string_view data) { return load(as_bytes(data)); }

  [[nodiscard]] std::string to_pem() const;
  [[nodiscard]] Bytes to_der() const;

  // The self-signature verifies with the CSR's own public key.
  [[nodiscard]] bool signature_valid() const;
  // Throws Errc::verify_failed "the CSR's signature does not verify (damaged or altered)" if not.
  void verify_signature() const;

  [[nodiscard]] Name subject() const;
  [[nodiscard]] PublicKey public_key() const;
  // SANs from a requested subjectAltName extension (empty if none).
  [[nodiscard]] std::vector<GeneralName> sans() const;
  // Every requested extension by short name ("subjectAltName", "basicConstraints", "keyUsage", ...)
  // or dotted OID when OpenSSL has no name for it.
  [[nodiscard]] std::vector<std::string> requested_extensions() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  explicit Csr(std::shared_ptr<const Impl> impl);
  friend struct detail::Access;
};

}  // namespace mqttpki::pki
