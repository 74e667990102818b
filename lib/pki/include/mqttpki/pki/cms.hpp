#pragma once
// CMS SignedData (RFC 5652) as renewal over MQTT carries requests: the content (a DER PKCS#10 request) signed
// with a device's current certificate and key, the certificate included, with two signed attributes: the
// signing time (PKCS#9 signingTime) and a request id, carried as SCEP's transactionID (RFC 8894 section 3.2.1.1,
// OID 2.16.840.1.113733.1.9.7, PrintableString), so standard tools can read every field:
//   openssl cms -verify -noverify -inform DER -in request.der -cmsout -print
// Pure: bytes and times in, bytes out.

#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/types.hpp>

#include <string>
#include <string_view>

namespace mqttpki::pki {

struct SignedContent {
  Bytes content;               // what was signed (encapsulated in the message)
  Certificate signer;          // the certificate the message carries and was signed with
  TimePoint signing_time{};    // the signed signingTime attribute
  std::string transaction_id;  // the signed transactionID attribute
};

// DER ContentInfo of a SignedData over `content`, signed with `key` (SHA-256 for P-256, as OpenSSL's default
// for the key type), `signer` included. transaction_id: 1-64 printable characters (Errc::invalid_argument
// otherwise). Throws Errc::mismatch when the key does not belong to the certificate, and Errc::policy for an
// Ed25519 key with OpenSSL before 3.2 (Debian 12 has 3.0), which cannot sign CMS with it.
[[nodiscard]] Bytes cms_sign(ByteView content, const Certificate& signer, const PrivateKey& key,
                             std::string_view transaction_id, TimePoint signing_time);

// Reads a DER SignedData and checks its one signature with the certificate it carries (the signature over the
// signed attributes, and the content's digest among them). It does NOT check that certificate's chain, time or
// purpose: the caller decides whom it trusts. Throws Errc::bad_format with a short reason ("not a CMS
// SignedData", "no signer certificate included", "2 signers (expected 1)", "no signingTime attribute", "no
// transactionID attribute") and Errc::verify_failed "the signature does not verify".
[[nodiscard]] SignedContent cms_verify(ByteView der);

}  // namespace mqttpki::pki
