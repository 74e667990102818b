#pragma once
// The OpenSSL owners net uses (pki's aliases, one deleter per type, plus libssl's) and the error-queue helper.

#include <mqttpki/pki/detail/ossl_ptr.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace mqttpki::pki::ossl {
// libssl's types, which pki does not use (it links libcrypto only).
MQTTPKI_OSSL_DELETER(SSL_CTX, SSL_CTX_free);
MQTTPKI_OSSL_DELETER(SSL, SSL_free);
namespace free_fns {
inline void free_name_stack(STACK_OF(X509_NAME) * s) { sk_X509_NAME_pop_free(s, X509_NAME_free); }
}  // namespace free_fns
MQTTPKI_OSSL_DELETER(STACK_OF(X509_NAME), free_fns::free_name_stack);  // the stack and its names
}  // namespace mqttpki::pki::ossl

namespace mqttpki::net::detail {

using SslCtxPtr = pki::ossl::UniquePtr<SSL_CTX>;
using pki::ossl::BioPtr;
using pki::ossl::GeneralNamesPtr;
using pki::ossl::X509CrlPtr;
using pki::ossl::X509Ptr;
using X509NameStackPtr = pki::ossl::UniquePtr<STACK_OF(X509_NAME)>;

// Drains the thread's OpenSSL error queue into one line ("a; b"); "no OpenSSL error detail" if empty.
std::string drain_openssl_errors();

}  // namespace mqttpki::net::detail
