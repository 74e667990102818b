#pragma once
// Ownership of OpenSSL objects (stateless deleters, no implicit T*) and the error-queue helper.

#include <mqttpki/pki/detail/ossl_ptr.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace mqttpki::net::detail {

using SslCtxPtr = pki::ossl::Ptr<SSL_CTX, SSL_CTX_free>;
using BioPtr = pki::ossl::Ptr<BIO, BIO_free>;
using X509Ptr = pki::ossl::Ptr<X509, X509_free>;
using X509CrlPtr = pki::ossl::Ptr<X509_CRL, X509_CRL_free>;
using GeneralNamesPtr = pki::ossl::Ptr<GENERAL_NAMES, GENERAL_NAMES_free>;
struct X509NameStackDeleter {
  void operator()(STACK_OF(X509_NAME) * p) const noexcept { sk_X509_NAME_pop_free(p, X509_NAME_free); }
};
using X509NameStackPtr = std::unique_ptr<STACK_OF(X509_NAME), X509NameStackDeleter>;

// Drains the thread's OpenSSL error queue into one line ("a; b"); "no OpenSSL error detail" if empty.
std::string drain_openssl_errors();

}  // namespace mqttpki::net::detail
