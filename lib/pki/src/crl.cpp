#include <mqttpki/pki/crl.hpp>
#include <mqttpki/pki/util.hpp>

#include "ossl.hpp"
#include "pem.hpp"

#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace mqttpki::pki {

namespace ossl {

X509CrlPtr parse_crl(ByteView data) {
  if (pem::looks_like_pem(data)) {
    for (const auto& b : pem::read_blocks(data)) {
      if (b.label != "X509 CRL") continue;
      const unsigned char* p = b.der.data();
      if (X509_CRL* crl = d2i_X509_CRL(nullptr, &p, static_cast<long>(b.der.size()))) return X509CrlPtr(crl);
      ERR_clear_error();
      throw Error(Errc::bad_format, "truncated or damaged PEM (the CRL does not parse)");
    }
    pem::throw_expected("a CRL (PEM 'BEGIN X509 CRL' or DER)", pem::describe_input(data));
  }
  const unsigned char* p = data.data();
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(data.size())));
  if (!crl) {
    ERR_clear_error();
    pem::throw_expected("a CRL (PEM 'BEGIN X509 CRL' or DER)", pem::describe_input(data));
  }
  return crl;
}

}  // namespace ossl

using detail::Access;

namespace {
constexpr std::array<std::pair<RevocationReason, std::string_view>, 10> reason_names{{
    {RevocationReason::unspecified, "unspecified"},
    {RevocationReason::key_compromise, "keyCompromise"},
    {RevocationReason::ca_compromise, "CACompromise"},
    {RevocationReason::affiliation_changed, "affiliationChanged"},
    {RevocationReason::superseded, "superseded"},
    {RevocationReason::cessation_of_operation, "cessationOfOperation"},
    {RevocationReason::certificate_hold, "certificateHold"},
    {RevocationReason::remove_from_crl, "removeFromCRL"},
    {RevocationReason::privilege_withdrawn, "privilegeWithdrawn"},
    {RevocationReason::aa_compromise, "AACompromise"},
}};

std::string squash(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '-' || c == '_' || c == ' ') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}
}  // namespace

std::string_view to_string(RevocationReason reason) noexcept {
  for (const auto& [r, name] : reason_names) {
    if (r == reason) return name;
  }
  return "unspecified";
}

RevocationReason parse_revocation_reason(std::string_view text) {
  std::string want = squash(text);
  for (const auto& [r, name] : reason_names) {
    if (squash(name) == want) return r;
  }
  throw Error(Errc::invalid_argument, "unknown revocation reason \"" + std::string(text) +
                                          "\" (e.g. keyCompromise, superseded, cessationOfOperation, unspecified)");
}

std::string make_crl(const Certificate& ca_cert, const PrivateKey& ca_key, const CrlOptions& options) {
  if (!ca_key.matches(ca_cert)) throw Error(Errc::mismatch, "the CA key does not match the CA certificate");
  if (!ca_cert.is_ca()) throw Error(Errc::policy, "the certificate is not a CA (no basicConstraints CA:TRUE)");
  if (auto ku = ca_cert.key_usage(); !ku.empty() && std::find(ku.begin(), ku.end(), "cRLSign") == ku.end()) {
    throw Error(Errc::policy, "the CA certificate does not allow CRL signing (keyUsage lacks cRLSign)");
  }
  if (options.next_update <= options.this_update) {
    throw Error(Errc::invalid_argument, "the CRL's next update must be after its this update");
  }
  X509* ca = Access::x509(ca_cert);
  ossl::X509CrlPtr crl(ossl::check_ptr(X509_CRL_new(), "X509_CRL_new"));
  ossl::check(X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) == 1, "X509_CRL_set_version");
  ossl::check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca)) == 1, "X509_CRL_set_issuer_name");
  auto last = ossl::make_asn1_time(options.this_update);
  auto next = ossl::make_asn1_time(options.next_update);
  ossl::check(X509_CRL_set1_lastUpdate(crl.get(), last.get()) == 1, "X509_CRL_set1_lastUpdate");
  ossl::check(X509_CRL_set1_nextUpdate(crl.get(), next.get()) == 1, "X509_CRL_set1_nextUpdate");

  for (const auto& entry : options.revoked) {
    ossl::X509RevokedPtr rev(ossl::check_ptr(X509_REVOKED_new(), "X509_REVOKED_new"));
    auto serial = ossl::serial_from_hex(normalize_serial(entry.serial_hex));
    ossl::check(X509_REVOKED_set_serialNumber(rev.get(), serial.get()) == 1, "X509_REVOKED_set_serialNumber");
    auto when = ossl::make_asn1_time(entry.revoked_at);
    ossl::check(X509_REVOKED_set_revocationDate(rev.get(), when.get()) == 1, "X509_REVOKED_set_revocationDate");
    if (entry.reason != RevocationReason::unspecified) {
      ossl::Asn1EnumeratedPtr code(ossl::check_ptr(ASN1_ENUMERATED_new(), "ASN1_ENUMERATED_new"));
      ossl::check(ASN1_ENUMERATED_set(code.get(), static_cast<long>(entry.reason)) == 1, "ASN1_ENUMERATED_set");
      ossl::check(X509_REVOKED_add1_ext_i2d(rev.get(), NID_crl_reason, code.get(), 0, 0) == 1,
                  "X509_REVOKED_add1_ext_i2d");
    }
    ossl::check(X509_CRL_add0_revoked(crl.get(), rev.get()) == 1, "X509_CRL_add0_revoked");
    rev.release();  // owned by the CRL now
  }
  ossl::check(X509_CRL_sort(crl.get()) == 1, "X509_CRL_sort");

  {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca, nullptr, nullptr, crl.get(), 0);
    auto aki = ossl::make_extension(ctx, NID_authority_key_identifier, "keyid:always");
    ossl::check(X509_CRL_add_ext(crl.get(), aki.get(), -1) == 1, "X509_CRL_add_ext");
  }
  {
    ossl::Asn1IntegerPtr number(ossl::check_ptr(ASN1_INTEGER_new(), "ASN1_INTEGER_new"));
    ossl::check(ASN1_INTEGER_set_uint64(number.get(), options.crl_number) == 1, "ASN1_INTEGER_set_uint64");
    ossl::check(X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) == 1, "X509_CRL_add1_ext_i2d");
  }
  EVP_PKEY* key = Access::pkey(ca_key);
  if (X509_CRL_sign(crl.get(), key, ossl::digest_for(key)) <= 0) throw ossl::openssl_error("signing the CRL");
  auto bio = ossl::new_mem_bio();
  ossl::check(PEM_write_bio_X509_CRL(bio.get(), crl.get()) == 1, "PEM_write_bio_X509_CRL");
  return ossl::bio_to_string(bio.get());
}

namespace {

// The issuer name as RFC 2253 text ("CN=...").
std::string name_text(const X509_NAME* name) {
  auto out = ossl::new_mem_bio();
  if (X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253) < 0) throw ossl::openssl_error("X509_NAME_print_ex");
  return ossl::bio_to_string(out.get());
}

}  // namespace

CrlInfo read_crl_info(ByteView data) {
  const ossl::X509CrlPtr crl = ossl::parse_crl(data);
  CrlInfo info;
  info.this_update = ossl::from_asn1_time(X509_CRL_get0_lastUpdate(crl.get()));
  if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get())) info.next_update = ossl::from_asn1_time(next);
  const ossl::Asn1IntegerPtr number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr)));
  if (std::uint64_t n = 0; number && ASN1_INTEGER_get_uint64(&n, number.get()) == 1) info.number = n;
  if (const X509_NAME* issuer = X509_CRL_get_issuer(crl.get())) info.issuer = name_text(issuer);
  if (const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get())) {
    for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
      info.revoked_serials.push_back(ossl::serial_to_hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
    }
  }
  ERR_clear_error();
  return info;
}

bool crl_issued_by(ByteView data, const Certificate& ca) {
  const ossl::X509CrlPtr crl = ossl::parse_crl(data);
  X509* ca_x509 = detail::Access::x509(ca);
  const bool ok = X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca_x509)) == 0 &&
                  X509_CRL_verify(crl.get(), X509_get0_pubkey(ca_x509)) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace mqttpki::pki
