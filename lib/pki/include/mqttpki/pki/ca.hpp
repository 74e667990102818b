#pragma once
// The CA: create and renew a self-signed root, and issue server and client leaves under it.
//
// Every function takes the time and the serial source as parameters. Serials are random, positive and
// at least 152 bits (see random_serial() in util.hpp); pass `serial` to choose one (e.g. a store that
// checked it against its index), or `random` to replace RAND_bytes.

#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/csr.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/name.hpp>
#include <mqttpki/pki/san.hpp>
#include <mqttpki/pki/types.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::pki {

// Certificates start this long before `now`: Raspberry Pis boot without a real-time clock, and a
// certificate that is "not yet valid" for a few minutes after boot breaks the first connection.
inline constexpr std::chrono::minutes backdate{5};

struct CaOptions {
  Name subject;                      // required, must have a CN
  int days = 3650;                   // 1 .. 36500
  std::optional<int> pathlen = 0;    // 0: only leaves below this CA; nullopt: no limit
  TimePoint now = std::chrono::system_clock::now();
  std::optional<std::string> serial; // hex; default random_serial(random)
  RandomSource random;               // empty: RAND_bytes
};

// Self-signed v3 CA: basicConstraints critical CA:TRUE with pathlen, keyUsage critical keyCertSign +
// cRLSign, subjectKeyIdentifier (SHA-1 of the public key), authorityKeyIdentifier keyid.
// notBefore = now - backdate, notAfter = now + days. Digest: SHA-256 (SHA-384 for P-384, none for Ed25519).
// The key must pass check_key_policy().
Certificate make_ca(const PrivateKey& key, const CaOptions& options);

struct RenewCaOptions {
  int days = 3650;
  TimePoint now = std::chrono::system_clock::now();
  std::optional<std::string> serial;
  RandomSource random;
};

// A new self-signed CA certificate for the same key: same subject, same subjectKeyIdentifier (so
// certificates issued under the old one verify under the new one), same pathlen, CA extensions as
// make_ca writes them (so a CA made elsewhere, e.g. with `openssl req -x509`, comes out conforming),
// new serial and validity. The old certificate may already be expired. Throws Errc::mismatch if the
// key does not match the old certificate, Errc::policy if the old certificate is not a CA.
Certificate renew_ca(const PrivateKey& ca_key, const Certificate& old_ca, const RenewCaOptions& options);

enum class Profile { server, client };
std::string_view to_string(Profile profile) noexcept;  // "server", "client"
Profile parse_profile(std::string_view text);          // the same; throws Errc::invalid_argument

struct IssueRequest {
  PublicKey public_key;                // the leaf's key; must pass check_key_policy()
  Name subject;                        // must have a CN and differ from the CA's subject
  std::vector<GeneralName> sans;       // server: at least one required
  Profile profile = Profile::client;
  int days = 365;                      // 1 .. 36500; capped at the CA's notAfter (with a warning)
  TimePoint now = std::chrono::system_clock::now();
  std::optional<std::string> serial;   // hex; default random_serial(random)
  RandomSource random;
  std::string ca_label = "ca.crt";     // how issue() names the CA certificate in messages
  // Filled by from_csr(): extensions the CSR asked for other than subjectAltName; issue() ignores them
  // and reports them in IssueResult::warnings.
  std::vector<std::string> ignored_csr_extensions;
};

// Verifies the CSR's signature (Errc::verify_failed if bad), then takes its public key, subject and SANs
// (and nothing else: a requested CA:TRUE, keyUsage etc. is ignored and listed in
// ignored_csr_extensions). A SAN type this library does not issue (otherName, dirName, ...) throws
// Errc::policy. Set profile, days, now, ... on the result before calling issue().
IssueRequest from_csr(const Csr& csr);

struct IssueResult {
  Certificate certificate;
  std::vector<std::string> warnings;  // e.g. validity capped at the CA's expiry; ignored CSR extensions
};

// Issue a leaf: v3, random serial, SKI, AKI keyid, basicConstraints CA:FALSE, keyUsage critical
// digitalSignature (+ keyEncipherment for RSA keys), extendedKeyUsage serverAuth or clientAuth, SANs.
// Digest as the CA key's type (SHA-384 for a P-384 CA). notBefore = now - backdate; notAfter = now + days,
// capped at the CA's notAfter (with a warning).
// Checks first, with clear refusals:
//   Errc::mismatch  the CA key does not match the CA certificate
//   Errc::policy    the CA certificate is not a CA, or is not usable under strict X.509 rules;
//                   leaf key fails check_key_policy(); leaf subject empty / without CN / equal to the
//                   CA's subject; server profile without SANs
//   Errc::expired   "CA certificate ca.crt expired on 2025-01-31; run `mqttpki renew --ca`"
//                   (or is not yet valid)
//   Errc::invalid_argument  days out of range, bad serial
// After signing, the certificate is checked against the CA without re-verifying its signature (see
// Issuer): issued by the CA (X509_check_issued: names, AKI/SKI, the CA's keyUsage), usable for the
// profile's purpose (X509_check_purpose), valid at `now` and within the CA's validity, and for servers
// each DNS/IP SAN matches as a host; Errc::verify_failed if not.
// Same as Issuer(ca_cert, ca_key, request.ca_label).issue(request).
IssueResult issue(const Certificate& ca_cert, const PrivateKey& ca_key, const IssueRequest& request);

// A CA ready to issue many certificates: the checks of the CA that do not depend on the request (the key
// matches the certificate, it is a CA that strict X.509 verification accepts) run once, here. issue() then
// builds each certificate with OpenSSL's X509V3 API, signs it and checks the result, so a process that issues
// many certificates (`renew --all`, a fleet) should keep one Issuer per CA.
//
// Why no signature verification per certificate: the key/certificate pairing is checked once here
// (EVP_PKEY_eq), so a certificate issued with this key verifies under this CA unless the signing itself
// went wrong. OpenSSL's ECDSA takes a fresh random nonce per signature and its RSA checks its own CRT
// result, so such a fault gives an invalid signature, which every client rejects, not a leaked key. Ed25519
// is deterministic, where one faulty signature can reveal the key, so for an Ed25519 CA each certificate's
// signature is still verified before it is returned. Tests verify issued certificates fully (verify_chain
// and `openssl verify -x509_strict -purpose ...`).
//
// Immutable after construction; copies share the prepared state; issue() may run on several threads.
class Issuer {
 public:
  // Throws Errc::mismatch if the key does not match the certificate, Errc::policy if the certificate is
  // not a CA usable under strict X.509 rules (not a CA, no keyUsage keyCertSign, no subjectKeyIdentifier,
  // basicConstraints not critical, ...). ca_label names the CA certificate in messages ("ca.crt").
  Issuer(const Certificate& ca_cert, const PrivateKey& ca_key, std::string ca_label = "ca.crt");

  // As issue() above; request.ca_label is not used (messages use the Issuer's label).
  [[nodiscard]] IssueResult issue(const IssueRequest& request) const;

  [[nodiscard]] const Certificate& ca_certificate() const noexcept;
  [[nodiscard]] const std::string& ca_label() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace mqttpki::pki
