#pragma once
// Internal: OpenSSL errors as mqttpki Errors, conversions, and the bridge between the public value types
// and the OpenSSL objects behind them (owned through the aliases of detail/ossl_ptr.hpp).

#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/csr.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/name.hpp>
#include <mqttpki/pki/san.hpp>
#include <mqttpki/pki/types.hpp>
#include <mqttpki/pki/detail/ossl_ptr.hpp>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

namespace mqttpki::pki::ossl {

// An Error for a failed OpenSSL call: "what: <drained queue>", or "what failed" when the queue is empty
// (a call that fails without a queued error is still a failure). Use as `throw openssl_error("...")`.
Error openssl_error(const char* what, Errc code = Errc::crypto);

// Throws openssl_error(what) unless ok.
inline void check(bool ok, const char* what) {
  if (!ok) throw openssl_error(what);
}
template <class T>
T* check_ptr(T* p, const char* what) {
  if (p == nullptr) throw openssl_error(what);
  return p;
}

// DER of an OpenSSL object through its i2d function, e.g. i2d_bytes(i2d_X509, x, "i2d_X509").
template <class T>
Bytes i2d_bytes(int (*i2d)(const T*, unsigned char**), const T* object, const char* what) {
  unsigned char* out = nullptr;
  const int len = i2d(object, &out);
  OpensslBytesPtr owner(out);
  if (len <= 0) throw openssl_error(what);
  return Bytes(out, out + len);
}

// A CRL, PEM ("BEGIN X509 CRL") or DER. Errc::bad_format "expected a CRL ..." if it is not one.
X509CrlPtr parse_crl(ByteView data);

// Memory BIO contents as a string.
std::string bio_to_string(BIO* bio);
BioPtr new_mem_bio();

// Time.
std::time_t to_time_t(TimePoint t);  // floor to whole seconds
TimePoint from_asn1_time(const ASN1_TIME* t);
Asn1TimePtr make_asn1_time(TimePoint t);  // UTCTime until 2049, GeneralizedTime after (RFC 5280)

// "A1:B2:..." for raw bytes.
std::string colon_hex(const unsigned char* data, std::size_t len);
// Serial (already normalized hex) to ASN1_INTEGER.
Asn1IntegerPtr serial_from_hex(const std::string& normalized_hex);
std::string serial_to_hex(const ASN1_INTEGER* serial);
// The serial to use: normalized `given`, or a fresh random one.
std::string choose_serial(const std::optional<std::string>& given, const RandomSource& random);

// Signature digest for a signing key: none for Ed25519/Ed448, SHA-384 for P-384, SHA-512 for P-521,
// SHA-256 otherwise.
const EVP_MD* digest_for(EVP_PKEY* key);

// Short name for an extension / object, or the dotted OID when OpenSSL has no name.
std::string object_name(const ASN1_OBJECT* obj);

// An extension from its OpenSSL configuration text ("critical,CA:FALSE", "hash", "keyid:always"), as
// `openssl x509 -extfile` makes it; ctx names the certificates (or CRL) the key identifiers come from.
X509ExtensionPtr make_extension(X509V3_CTX& ctx, int nid, const char* value);

// SAN conversions.
GeneralNamePtr to_general_name(const GeneralName& name);
GeneralName from_general_name(const GENERAL_NAME* name);
GeneralNamesPtr to_general_names(const std::vector<GeneralName>& names);
std::vector<GeneralName> from_general_names(const GENERAL_NAMES* names);

}  // namespace mqttpki::pki::ossl

namespace mqttpki::pki {

struct PublicKey::Impl {
  ossl::EvpPkeyPtr pkey;
};
struct PrivateKey::Impl {
  ossl::EvpPkeyPtr pkey;
};
struct Certificate::Impl {
  ossl::X509Ptr x509;
};
struct Csr::Impl {
  ossl::X509ReqPtr req;
};

struct detail::Access {
  static EVP_PKEY* pkey(const PublicKey& key);
  static EVP_PKEY* pkey(const PrivateKey& key);
  static X509* x509(const Certificate& cert) { return cert.impl_->x509.get(); }
  using CsrImpl = Csr::Impl;

  static PublicKey make_public(ossl::EvpPkeyPtr pkey);
  // Takes a new reference to a borrowed key.
  static PublicKey make_public_ref(EVP_PKEY* pkey);
  static PrivateKey make_private(ossl::EvpPkeyPtr pkey);
  static Certificate make_certificate(ossl::X509Ptr x509);
  static Csr make_csr(std::shared_ptr<const CsrImpl> impl);

  static Name make_name(const X509_NAME* name);
  static ossl::X509NamePtr x509_name(const Name& name);
};

}  // namespace mqttpki::pki
