#include "helpers.hpp"

using namespace pki_test;

namespace {
struct CrlFree {
  void operator()(X509_CRL* c) const noexcept { X509_CRL_free(c); }
};
std::unique_ptr<X509_CRL, CrlFree> parse(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<X509_CRL, CrlFree> crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(crl);
  return crl;
}
std::string hex_of(const ASN1_INTEGER* i) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(i, nullptr);
  char* h = BN_bn2hex(bn);
  std::string s(h);
  OPENSSL_free(h);
  BN_free(bn);
  return s;
}
}  // namespace

TEST_CASE("make_crl: v2 with CRL number, AKI and reasons", "[crl]") {
  auto ca = make_test_ca();
  CrlOptions o;
  o.crl_number = 7;
  o.this_update = fixed_now();
  o.next_update = fixed_now() + 24h * 30;
  o.revoked = {{"0A:BC", fixed_now() - 1h, RevocationReason::key_compromise},
               {"01", fixed_now() - 2h, RevocationReason::unspecified}};
  std::string pem = make_crl(ca.cert, ca.key, o);
  CHECK(pem.rfind("-----BEGIN X509 CRL-----", 0) == 0);
  auto crl = parse(pem);
  CHECK(X509_CRL_get_version(crl.get()) == X509_CRL_VERSION_2);
  X509Ptr ca_raw = raw_x509(ca.cert);
  CHECK(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca_raw.get())) == 0);
  CHECK(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca_raw.get())) == 1);
  CHECK(ASN1_TIME_compare(X509_CRL_get0_lastUpdate(crl.get()), X509_CRL_get0_nextUpdate(crl.get())) < 0);

  auto* number = static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr));
  REQUIRE(number != nullptr);
  CHECK(ASN1_INTEGER_get(number) == 7);
  ASN1_INTEGER_free(number);
  auto* aki = static_cast<AUTHORITY_KEYID*>(X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, nullptr, nullptr));
  REQUIRE(aki != nullptr);
  REQUIRE(aki->keyid != nullptr);
  CHECK(ASN1_OCTET_STRING_cmp(aki->keyid, X509_get0_subject_key_id(ca_raw.get())) == 0);
  AUTHORITY_KEYID_free(aki);

  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  REQUIRE(sk_X509_REVOKED_num(revoked) == 2);
  // Sorted by serial.
  X509_REVOKED* first = sk_X509_REVOKED_value(revoked, 0);
  X509_REVOKED* second = sk_X509_REVOKED_value(revoked, 1);
  CHECK(hex_of(X509_REVOKED_get0_serialNumber(first)) == "01");
  CHECK(hex_of(X509_REVOKED_get0_serialNumber(second)) == "0ABC");
  CHECK(X509_REVOKED_get_ext_by_NID(first, NID_crl_reason, -1) < 0);  // unspecified: no extension
  auto* reason = static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(second, NID_crl_reason, nullptr, nullptr));
  REQUIRE(reason != nullptr);
  CHECK(ASN1_ENUMERATED_get(reason) == 1);
  ASN1_ENUMERATED_free(reason);
}

TEST_CASE("make_crl refusals", "[crl]") {
  auto ca = make_test_ca();
  CrlOptions o;
  o.this_update = fixed_now();
  o.next_update = fixed_now();
  REQUIRE_ERROR(make_crl(ca.cert, ca.key, o), Errc::invalid_argument, "next update");
  o.next_update = fixed_now() + 24h;
  REQUIRE_ERROR(make_crl(ca.cert, PrivateKey::generate(KeyType::p256), o), Errc::mismatch);
  o.revoked = {{"nothex", fixed_now(), RevocationReason::superseded}};
  REQUIRE_ERROR(make_crl(ca.cert, ca.key, o), Errc::invalid_argument, "serial");
}

TEST_CASE("revocation reasons", "[crl]") {
  CHECK(parse_revocation_reason("keyCompromise") == RevocationReason::key_compromise);
  CHECK(parse_revocation_reason("key-compromise") == RevocationReason::key_compromise);
  CHECK(parse_revocation_reason("KEY_COMPROMISE") == RevocationReason::key_compromise);
  CHECK(parse_revocation_reason("cessationOfOperation") == RevocationReason::cessation_of_operation);
  CHECK(to_string(RevocationReason::ca_compromise) == "CACompromise");
  for (auto r : {RevocationReason::unspecified, RevocationReason::superseded, RevocationReason::remove_from_crl,
                 RevocationReason::aa_compromise, RevocationReason::privilege_withdrawn}) {
    CHECK(parse_revocation_reason(to_string(r)) == r);
  }
  REQUIRE_ERROR(parse_revocation_reason("stolen"), Errc::invalid_argument, "keyCompromise");
}
