#pragma once
// For mqttpki's own modules that call OpenSSL (pki, store, net), not for users of the library: ownership of
// OpenSSL objects as std::unique_ptr with a stateless deleter (as bssl::UniquePtr; no implicit T*), and the
// thread's error queue as text. One definition here, so every module frees and reports the same way.
// Includes no OpenSSL header: the caller includes the ones its types come from.

#include <memory>
#include <string>

namespace mqttpki::pki::ossl {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
// e.g. Ptr<X509, X509_free>, Ptr<SSL_CTX, SSL_CTX_free>
template <class T, auto Free>
using Ptr = std::unique_ptr<T, Deleter<Free>>;

// Drains the thread's OpenSSL error queue into one line ("a; b"); "" when it is empty.
std::string drain_errors();

}  // namespace mqttpki::pki::ossl
