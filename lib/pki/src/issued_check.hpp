#pragma once
// Internal: the structural check of each certificate pki::Issuer makes, before it is returned.
//
// It covers what X509_check_issued and X509_check_purpose checked before (and what a TLS peer's
// X509_verify_cert will check), computed directly on the certificate as built, by decoding each extension
// it carries, instead of through OpenSSL's extension cache: filling that cache also takes a SHA-1 of the
// whole re-encoded certificate, more than all of these checks together.

#include <openssl/x509.h>

#include <array>
#include <optional>
#include <string>

namespace mqttpki::pki::detail {

struct IssuedExpectations {
  const X509_NAME* ca_subject = nullptr;       // the certificate's issuer name must compare equal
  EVP_PKEY* ca_key = nullptr;                  // the signature algorithm must be one for this key type
  const ASN1_OCTET_STRING* ca_key_id = nullptr;  // the CA's subjectKeyIdentifier: the AKI's keyIdentifier
  bool server = false;                         // serverAuth (else clientAuth) in the extendedKeyUsage
  bool has_sans = false;                       // a subjectAltName extension is expected (and only then)
  // Extensions whose value already passed extension_value_problem for these same expectations (pki::Issuer
  // checks the ones it attaches to every certificate once): an extension of the certificate with the same
  // type and the same value bytes is not decoded again. Presence, uniqueness and criticality are checked
  // all the same. Null entries are ignored.
  std::array<const X509_EXTENSION*, 4> checked{};
};

// Why the certificate is not what pki::Issuer issues, in the words of X509_verify_cert_error_string where
// there is one; nullopt when it is. Checked:
//   - version 3; the issuer name equals the CA's subject (X509_NAME_cmp); the TBS and outer signature
//     AlgorithmIdentifiers are equal and name an algorithm for the CA's key type;
//   - each extension is a known one, present once, with the criticality RFC 5280 / mqttpki uses, and
//     decodes completely (OpenSSL's cache marks a certificate with an undecodable one invalid);
//   - basicConstraints: critical, CA:FALSE, no pathLen; keyUsage: critical, digitalSignature, neither
//     keyCertSign nor cRLSign; extendedKeyUsage: serverAuth or clientAuth as the profile;
//     subjectKeyIdentifier: the SHA-1 of the certificate's subjectPublicKey; authorityKeyIdentifier:
//     only a keyIdentifier, equal to the CA's subjectKeyIdentifier; subjectAltName as expected.
// The CA's own keyUsage (keyCertSign) and validity are checked by pki::Issuer.
std::optional<std::string> issued_certificate_problem(X509* x, const IssuedExpectations& expect);

// The value check above for one extension (basicConstraints, keyUsage, extendedKeyUsage,
// authorityKeyIdentifier, subjectAltName; a subjectKeyIdentifier needs its certificate and is refused
// here), for IssuedExpectations::checked. Its presence and criticality are not looked at.
std::optional<std::string> extension_value_problem(const X509_EXTENSION* ext, const IssuedExpectations& expect);

}  // namespace mqttpki::pki::detail
