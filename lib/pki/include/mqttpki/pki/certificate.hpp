#pragma once
// X.509 certificates as immutable values (copies share the parsed object).

#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/name.hpp>
#include <mqttpki/pki/san.hpp>
#include <mqttpki/pki/types.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::pki {

struct BasicConstraints {
  bool ca = false;
  std::optional<int> pathlen;  // absent = no limit
  bool critical = false;
  bool operator==(const BasicConstraints&) const = default;
};

// Everything `inspect` prints, computed at one instant. Strings are ready to print.
struct CertificateInfo {
  std::string subject;             // "CN=pi1,O=Home"
  std::string issuer;
  std::string serial;              // upper-case hex, as Certificate::serial_hex()
  TimePoint not_before;
  TimePoint not_after;
  std::string not_before_text;     // ISO 8601 UTC, as format_time()
  std::string not_after_text;
  long days_left = 0;              // days_between(now, not_after); negative once expired
  bool expired = false;            // now > not_after
  bool not_yet_valid = false;      // now < not_before
  std::string status;              // "valid", "expired", "not yet valid"
  std::string key_type;            // "EC P-256"
  std::string signature_algorithm; // "ecdsa-with-SHA256", "ED25519", "sha256WithRSAEncryption"
  std::vector<std::string> sans;   // "DNS:mqtt.example.com", "IP:203.0.113.5"
  std::vector<std::string> key_usage;
  std::vector<std::string> extended_key_usage;
  std::optional<BasicConstraints> basic_constraints;
  bool is_ca = false;
  bool self_signed = false;
  std::string subject_key_id;      // colon hex, empty if absent
  std::string authority_key_id;    // colon hex, empty if absent
  std::string fingerprint_sha256;  // colon hex
};

class Certificate {
 public:
  // Exactly one certificate: PEM "BEGIN CERTIFICATE" or DER. A PEM with several certificates is refused
  // ("expected one certificate, found 3 (a chain)"). Errors are Errc::bad_format with messages such as
  // "expected a certificate (PEM 'BEGIN CERTIFICATE' or DER), found a private key" and
  // "truncated or damaged PEM".
  static Certificate load(ByteView data);
  static Certificate load(std::string_view data) { return load(as_bytes(data)); }
  // One or more certificates: a PEM bundle/chain (other PEM blocks such as keys are an error) or one DER.
  static std::vector<Certificate> load_chain(ByteView data);
  static std::vector<Certificate> load_chain(std::string_view data) { return load_chain(as_bytes(data)); }

  [[nodiscard]] std::string to_pem() const;
  [[nodiscard]] Bytes to_der() const;

  [[nodiscard]] int version() const;  // 3 for v3
  [[nodiscard]] Name subject() const;
  [[nodiscard]] Name issuer() const;
  // Upper-case hex without leading zero bytes or colons, as `openssl x509 -serial` prints it.
  [[nodiscard]] std::string serial_hex() const;
  [[nodiscard]] TimePoint not_before() const;
  [[nodiscard]] TimePoint not_after() const;
  [[nodiscard]] std::vector<GeneralName> sans() const;
  [[nodiscard]] PublicKey public_key() const;
  [[nodiscard]] Bytes public_key_der() const;  // DER SubjectPublicKeyInfo
  [[nodiscard]] std::string key_type_name() const;  // "EC P-256"
  [[nodiscard]] std::string signature_algorithm() const;
  // "digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement",
  // "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"; empty if no keyUsage extension.
  [[nodiscard]] std::vector<std::string> key_usage() const;
  [[nodiscard]] bool key_usage_critical() const;
  // "serverAuth", "clientAuth", ... (OpenSSL short names) or dotted OIDs; empty if no EKU extension.
  [[nodiscard]] std::vector<std::string> extended_key_usage() const;
  [[nodiscard]] std::optional<BasicConstraints> basic_constraints() const;
  // basicConstraints CA:TRUE.
  [[nodiscard]] bool is_ca() const;
  // Colon-separated upper-case hex ("A1:B2:..."); nullopt if the extension (or its keyid) is absent.
  [[nodiscard]] std::optional<std::string> subject_key_id_hex() const;
  [[nodiscard]] std::optional<std::string> authority_key_id_hex() const;
  // True when the authorityKeyIdentifier also names the issuer's issuer and serial number (easy-rsa's
  // "keyid,issuer:always"): OpenSSL then accepts it only under that very CA certificate, not a renewal of it.
  [[nodiscard]] bool authority_key_id_names_serial() const;
  // SHA-256 over the DER, colon-separated upper-case hex (as `openssl x509 -fingerprint -sha256`).
  [[nodiscard]] std::string fingerprint_sha256() const;
  // Subject equals issuer and the signature verifies with the certificate's own key.
  [[nodiscard]] bool is_self_signed() const;
  // Every extension present, by short name or dotted OID.
  [[nodiscard]] std::vector<std::string> extension_names() const;

  [[nodiscard]] CertificateInfo describe(TimePoint now) const;

  // Same DER.
  friend bool operator==(const Certificate& a, const Certificate& b);

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  explicit Certificate(std::shared_ptr<const Impl> impl);
  friend struct detail::Access;
};

// The PEM form of a certificate's DER bytes as to_pem() writes it, without decoding them (a store writing
// certificates it issued itself need not parse each one again).
[[nodiscard]] std::string certificate_pem(ByteView der);

}  // namespace mqttpki::pki
