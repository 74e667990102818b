#pragma once
// Shared fixtures for the pki unit tests: a fixed clock, a ready CA, error assertions, and a few raw
// OpenSSL helpers for what the library deliberately cannot make (weak keys, hand-built certificates).

#include <mqttpki/pki/pki.hpp>

#include <catch2/catch.hpp>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace pki_test {

using namespace mqttpki::pki;
using mqttpki::Errc;
using mqttpki::Error;
using namespace std::chrono_literals;

// 2026-01-15T12:00:00Z: every test uses a fixed `now`; nothing sleeps.
inline TimePoint fixed_now() { return TimePoint(std::chrono::seconds(1768478400)); }

struct TestCa {
  PrivateKey key;
  Certificate cert;
};

inline TestCa make_test_ca(KeyType type = KeyType::p256, int days = 3650, TimePoint now = fixed_now(),
                           const std::string& cn = "Test CA") {
  PrivateKey key = PrivateKey::generate(type);
  CaOptions o;
  o.subject = Name::build(cn, "Home");
  o.days = days;
  o.now = now;
  Certificate cert = make_ca(key, o);
  return {key, cert};
}

inline IssueRequest make_request(const PublicKey& key, const std::string& cn, Profile profile,
                                 const std::vector<std::string>& sans = {}, int days = 365,
                                 TimePoint now = fixed_now()) {
  IssueRequest r;
  r.public_key = key;
  r.subject = Name::build(cn, "Home");
  for (const auto& s : sans) r.sans.push_back(parse_san(s));
  r.profile = profile;
  r.days = days;
  r.now = now;
  return r;
}

// Runs f, requires an mqttpki::Error with that code whose message contains `part`.
template <class F>
void require_error(F&& f, Errc code, const std::string& part = {}) {
  try {
    f();
  } catch (const Error& e) {
    INFO("message: " << e.what());
    CHECK(static_cast<int>(e.code()) == static_cast<int>(code));
    if (!part.empty()) CHECK(std::string(e.what()).find(part) != std::string::npos);
    return;
  }
  FAIL("expected an mqttpki::Error");
}
#define REQUIRE_ERROR(expr, code, ...) ::pki_test::require_error([&] { (void)(expr); }, code, ##__VA_ARGS__)

// ---- raw OpenSSL, for things the library refuses to make

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct X509Free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free_all(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

inline std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

inline std::string private_pem(EVP_PKEY* k) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  return bio_string(bio.get());
}

inline std::string public_pem(EVP_PKEY* k) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PUBKEY(bio.get(), k) == 1);
  return bio_string(bio.get());
}

inline PkeyPtr raw_rsa(unsigned bits) {
  PkeyPtr k(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  REQUIRE(k);
  return k;
}

inline PkeyPtr raw_ec(const char* curve) {
  PkeyPtr k(EVP_EC_gen(curve));
  REQUIRE(k);
  return k;
}

inline X509Ptr raw_x509(const Certificate& c) {
  Bytes der = c.to_der();
  const unsigned char* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(x);
  return x;
}

inline Certificate to_certificate(X509* x) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), x) == 1);
  return Certificate::load(bio_string(bio.get()));
}

inline PrivateKey to_private(EVP_PKEY* k) { return PrivateKey::load(private_pem(k)); }

inline std::string read_all(std::FILE* f) {
  std::string out;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  return out;
}

}  // namespace pki_test
