// The few OpenSSL calls the store needs beyond mqttpki::pki: reading a CRL back (nextUpdate for renewal and
// `list`), checking that a certificate file was signed by this CA, and SHA-256 fingerprints for the index.

#include <mqttpki/pki/detail/ossl_ptr.hpp>
#include <mqttpki/pki/error.hpp>
#include <mqttpki/store/renewal.hpp>

#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace mqttpki::store {

namespace {

using pki::ossl::drain_errors;
using BioPtr = pki::ossl::Ptr<BIO, BIO_free>;
using CrlPtr = pki::ossl::Ptr<X509_CRL, X509_CRL_free>;
using X509Ptr = pki::ossl::Ptr<X509, X509_free>;
using IntPtr = pki::ossl::Ptr<ASN1_INTEGER, ASN1_INTEGER_free>;
using BnPtr = pki::ossl::Ptr<BIGNUM, BN_free>;
void free_openssl_string(char* p) { OPENSSL_free(p); }
using OsslStringPtr = pki::ossl::Ptr<char, free_openssl_string>;

TimePoint to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) throw Error(Errc::bad_format, "the CRL has an unreadable time");
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

std::string integer_hex(const ASN1_INTEGER* value) {
  BnPtr bn(ASN1_INTEGER_to_BN(value, nullptr));
  if (!bn) throw Error(Errc::crypto, "cannot read a serial number: " + drain_errors());
  OsslStringPtr hex(BN_bn2hex(bn.get()));
  if (!hex) throw Error(Errc::crypto, "cannot format a serial number: " + drain_errors());
  return normalize_serial(hex.get());
}

X509Ptr parse_x509(const pki::Certificate& cert) {
  const pki::Bytes der = cert.to_der();
  const unsigned char* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x) throw Error(Errc::crypto, "cannot parse a certificate: " + drain_errors());
  return x;
}

}  // namespace

CrlInfo read_crl_info(std::string_view data) {
  ERR_clear_error();
  CrlPtr crl;
  if (data.find("-----BEGIN X509 CRL-----") != std::string_view::npos) {
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    if (!bio) throw Error(Errc::crypto, "out of memory reading a CRL");
    crl.reset(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  } else {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    crl.reset(d2i_X509_CRL(nullptr, &p, static_cast<long>(data.size())));
  }
  if (!crl) {
    ERR_clear_error();
    throw Error(Errc::bad_format, "not a CRL (expected PEM 'BEGIN X509 CRL' or DER), or truncated");
  }

  CrlInfo info;
  info.this_update = to_time_point(X509_CRL_get0_lastUpdate(crl.get()));
  if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get())) info.next_update = to_time_point(next);
  {
    int crit = 0;
    IntPtr number(
        static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, &crit, nullptr)));
    std::uint64_t n = 0;
    if (number && ASN1_INTEGER_get_uint64(&n, number.get()) == 1) info.number = n;
  }
  if (const X509_NAME* issuer = X509_CRL_get_issuer(crl.get())) {
    BioPtr out(BIO_new(BIO_s_mem()));
    if (out && X509_NAME_print_ex(out.get(), issuer, 0, XN_FLAG_RFC2253) >= 0) {
      char* p = nullptr;
      const long len = BIO_get_mem_data(out.get(), &p);
      if (len > 0 && p != nullptr) info.issuer.assign(p, static_cast<std::size_t>(len));
    }
  }
  if (STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get())) {
    for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i)
      info.revoked_serials.push_back(integer_hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
  }
  ERR_clear_error();
  return info;
}

bool signed_by(const pki::Certificate& cert, const pki::Certificate& ca) {
  ERR_clear_error();
  auto x = parse_x509(cert);
  auto issuer = parse_x509(ca);
  EVP_PKEY* key = X509_get0_pubkey(issuer.get());
  if (key == nullptr) throw Error(Errc::crypto, "cannot read the CA certificate's public key: " + drain_errors());
  const bool ok = X509_verify(x.get(), key) == 1;
  ERR_clear_error();
  return ok;
}

std::string sha256_colon_hex(pki::ByteView der) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(der.data(), der.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw Error(Errc::crypto, "SHA-256 failed: " + drain_errors());
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    if (i != 0) out += ':';
    out += fmt::format("{:02X}", md[i]);
  }
  return out;
}

}  // namespace mqttpki::store
