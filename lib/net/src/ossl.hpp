#pragma once
// Ownership of OpenSSL objects (stateless deleters, no implicit T*) and the error-queue helper.

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace mqttpki::net::detail {

struct SslCtxDeleter {
  void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct X509Deleter {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct X509CrlDeleter {
  void operator()(X509_CRL* p) const noexcept { X509_CRL_free(p); }
};
struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* p) const noexcept { GENERAL_NAMES_free(p); }
};
struct X509NameStackDeleter {
  void operator()(STACK_OF(X509_NAME) * p) const noexcept { sk_X509_NAME_pop_free(p, X509_NAME_free); }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using X509CrlPtr = std::unique_ptr<X509_CRL, X509CrlDeleter>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter>;
using X509NameStackPtr = std::unique_ptr<STACK_OF(X509_NAME), X509NameStackDeleter>;

// Drains the thread's OpenSSL error queue into one line ("a; b"); "no OpenSSL error detail" if empty.
std::string drain_openssl_errors();

}  // namespace mqttpki::net::detail
