#pragma once
// For mqttpki's own modules that call OpenSSL (pki, net), not for users of the library: ownership of OpenSSL
// objects as std::unique_ptr with one stateless deleter per type (as bssl::UniquePtr; no implicit T*), and the
// thread's error queue as text. One definition here, so every module frees and reports the same way. A module
// that owns types of its own (net: SSL, SSL_CTX) adds their deleters with MQTTPKI_OSSL_DELETER.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace mqttpki::pki::ossl {

// Specialised once per OpenSSL type (MQTTPKI_OSSL_DELETER): a type has exactly one way to be freed.
template <class T>
struct Deleter;

// Inside namespace mqttpki::pki::ossl.
#define MQTTPKI_OSSL_DELETER(type, free_fn)                 \
  template <>                                               \
  struct Deleter<type> {                                    \
    void operator()(type* p) const noexcept { free_fn(p); } \
  }

template <class T>
using UniquePtr = std::unique_ptr<T, Deleter<T>>;

// Drains the thread's OpenSSL error queue into one line ("a; b"); "" when it is empty.
std::string drain_errors();

namespace free_fns {
inline void free_extension_stack(STACK_OF(X509_EXTENSION) * s) { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
inline void free_x509_stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
inline void free_openssl_string(char* p) { OPENSSL_free(p); }
inline void free_openssl_bytes(unsigned char* p) { OPENSSL_free(p); }
}  // namespace free_fns

MQTTPKI_OSSL_DELETER(EVP_PKEY, EVP_PKEY_free);
MQTTPKI_OSSL_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
MQTTPKI_OSSL_DELETER(EVP_MD_CTX, EVP_MD_CTX_free);
MQTTPKI_OSSL_DELETER(EVP_MD, EVP_MD_free);
MQTTPKI_OSSL_DELETER(BIO, BIO_free_all);
MQTTPKI_OSSL_DELETER(X509, X509_free);
MQTTPKI_OSSL_DELETER(X509_REQ, X509_REQ_free);
MQTTPKI_OSSL_DELETER(X509_CRL, X509_CRL_free);
MQTTPKI_OSSL_DELETER(X509_NAME, X509_NAME_free);
MQTTPKI_OSSL_DELETER(X509_EXTENSION, X509_EXTENSION_free);
MQTTPKI_OSSL_DELETER(X509_REVOKED, X509_REVOKED_free);
MQTTPKI_OSSL_DELETER(X509_STORE, X509_STORE_free);
MQTTPKI_OSSL_DELETER(X509_STORE_CTX, X509_STORE_CTX_free);
MQTTPKI_OSSL_DELETER(X509_SIG, X509_SIG_free);
MQTTPKI_OSSL_DELETER(X509_ALGOR, X509_ALGOR_free);
MQTTPKI_OSSL_DELETER(PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free);
MQTTPKI_OSSL_DELETER(ASN1_STRING, ASN1_STRING_free);  // also ASN1_INTEGER, ASN1_OCTET_STRING, ... (one type)
MQTTPKI_OSSL_DELETER(BIGNUM, BN_free);
MQTTPKI_OSSL_DELETER(ASN1_OBJECT, ASN1_OBJECT_free);
MQTTPKI_OSSL_DELETER(CMS_ContentInfo, CMS_ContentInfo_free);
MQTTPKI_OSSL_DELETER(BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free);
MQTTPKI_OSSL_DELETER(AUTHORITY_KEYID, AUTHORITY_KEYID_free);
MQTTPKI_OSSL_DELETER(NAME_CONSTRAINTS, NAME_CONSTRAINTS_free);
MQTTPKI_OSSL_DELETER(GENERAL_NAME, GENERAL_NAME_free);
MQTTPKI_OSSL_DELETER(GENERAL_NAMES, GENERAL_NAMES_free);
MQTTPKI_OSSL_DELETER(EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free);  // the stack and its names
MQTTPKI_OSSL_DELETER(STACK_OF(X509_EXTENSION), free_fns::free_extension_stack);  // the stack and its extensions
MQTTPKI_OSSL_DELETER(STACK_OF(X509), free_fns::free_x509_stack);  // the stack and its certificates
MQTTPKI_OSSL_DELETER(char, free_fns::free_openssl_string);  // strings OpenSSL allocates (BN_bn2hex, ...)
MQTTPKI_OSSL_DELETER(unsigned char, free_fns::free_openssl_bytes);  // bytes OpenSSL allocates (i2d_*, ...)

using EvpPkeyPtr = UniquePtr<EVP_PKEY>;
using EvpPkeyCtxPtr = UniquePtr<EVP_PKEY_CTX>;
using EvpMdCtxPtr = UniquePtr<EVP_MD_CTX>;
using BioPtr = UniquePtr<BIO>;
using X509Ptr = UniquePtr<X509>;
using X509ReqPtr = UniquePtr<X509_REQ>;
using X509CrlPtr = UniquePtr<X509_CRL>;
using X509NamePtr = UniquePtr<X509_NAME>;
using X509ExtensionPtr = UniquePtr<X509_EXTENSION>;
using X509RevokedPtr = UniquePtr<X509_REVOKED>;
using X509StorePtr = UniquePtr<X509_STORE>;
using X509StoreCtxPtr = UniquePtr<X509_STORE_CTX>;
using X509SigPtr = UniquePtr<X509_SIG>;
using Asn1StringPtr = UniquePtr<ASN1_STRING>;  // ASN1_INTEGER, ASN1_TIME, ... are all ASN1_STRING
using Asn1IntegerPtr = Asn1StringPtr;
using Asn1TimePtr = Asn1StringPtr;
using Asn1OctetStringPtr = Asn1StringPtr;
using Asn1BitStringPtr = Asn1StringPtr;
using Asn1EnumeratedPtr = Asn1StringPtr;
using X509AlgorPtr = UniquePtr<X509_ALGOR>;
using Pkcs8InfoPtr = UniquePtr<PKCS8_PRIV_KEY_INFO>;
using BasicConstraintsPtr = UniquePtr<BASIC_CONSTRAINTS>;
using AuthorityKeyIdPtr = UniquePtr<AUTHORITY_KEYID>;
using NameConstraintsPtr = UniquePtr<NAME_CONSTRAINTS>;
using BignumPtr = UniquePtr<BIGNUM>;
using Asn1ObjectPtr = UniquePtr<ASN1_OBJECT>;
using CmsPtr = UniquePtr<CMS_ContentInfo>;
using GeneralNamePtr = UniquePtr<GENERAL_NAME>;
using GeneralNamesPtr = UniquePtr<GENERAL_NAMES>;
using ExtendedKeyUsagePtr = UniquePtr<EXTENDED_KEY_USAGE>;
using ExtensionStackPtr = UniquePtr<STACK_OF(X509_EXTENSION)>;
using X509StackPtr = UniquePtr<STACK_OF(X509)>;
using OpensslStringPtr = UniquePtr<char>;
using OpensslBytesPtr = UniquePtr<unsigned char>;

}  // namespace mqttpki::pki::ossl
