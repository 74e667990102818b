#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/pki/verify.hpp>

#include "ossl.hpp"

#include <openssl/ec.h>
#include <openssl/opensslv.h>

#include <algorithm>
#include <arpa/inet.h>

namespace mqttpki::pki {

using detail::Access;

namespace {

constexpr int max_days = 36500;

void check_days(int days) {
  if (days < 1 || days > max_days) {
    throw Error(Errc::invalid_argument,
                "invalid validity of " + std::to_string(days) + " days (expected 1 to " + std::to_string(max_days) + ")");
  }
}

void add_ext(X509* x, int nid, void* value, bool critical) {
  if (X509_add1_ext_i2d(x, nid, value, critical ? 1 : 0, X509V3_ADD_REPLACE) != 1) {
    throw ossl::openssl_error("adding a certificate extension");
  }
}

void add_basic_constraints(X509* x, bool ca, std::optional<int> pathlen) {
  ossl::BasicConstraintsPtr bc(ossl::check_ptr(BASIC_CONSTRAINTS_new(), "BASIC_CONSTRAINTS_new"));
  bc->ca = ca ? 0xFF : 0;
  if (ca && pathlen) {
    bc->pathlen = ossl::check_ptr(ASN1_INTEGER_new(), "ASN1_INTEGER_new");
    ossl::check(ASN1_INTEGER_set(bc->pathlen, *pathlen) == 1, "ASN1_INTEGER_set");
  }
  add_ext(x, NID_basic_constraints, bc.get(), true);
}

// Bits as numbered in RFC 5280 KeyUsage: digitalSignature(0) ... cRLSign(6).
void add_key_usage(X509* x, std::initializer_list<int> bits) {
  ossl::Asn1BitStringPtr ku(ossl::check_ptr(ASN1_BIT_STRING_new(), "ASN1_BIT_STRING_new"));
  for (int bit : bits) ossl::check(ASN1_BIT_STRING_set_bit(ku.get(), bit, 1) == 1, "ASN1_BIT_STRING_set_bit");
  add_ext(x, NID_key_usage, ku.get(), true);
}
constexpr int ku_digital_signature = 0;
constexpr int ku_key_encipherment = 2;
constexpr int ku_key_cert_sign = 5;
constexpr int ku_crl_sign = 6;

void add_authority_key_id(X509* x, const ASN1_OCTET_STRING* keyid) {
  ossl::AuthorityKeyIdPtr aki(ossl::check_ptr(AUTHORITY_KEYID_new(), "AUTHORITY_KEYID_new"));
  aki->keyid = ossl::check_ptr(ASN1_OCTET_STRING_dup(keyid), "ASN1_OCTET_STRING_dup");
  add_ext(x, NID_authority_key_identifier, aki.get(), false);
}

// X509_set_pubkey, minus a cost of OpenSSL 3.0: for a provider key it encodes the SubjectPublicKeyInfo
// and decodes it again through the encoder/decoder machinery, about 0.6 ms for an EC key, which was half
// of issuing a certificate. A legacy EC_KEY copy of the same key takes the ASN.1-method path and writes
// the same bytes (unit tests compare the issued certificate's SubjectPublicKeyInfo with the key's).
// Everything else goes the documented way.
void set_public_key(X509* x, EVP_PKEY* key) {
#if OPENSSL_VERSION_MAJOR == 3 && OPENSSL_VERSION_MINOR == 0
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  if (EVP_PKEY_is_a(key, "EC")) {
    if (EC_KEY* ec = EVP_PKEY_get1_EC_KEY(key)) {
      ossl::EvpPkeyPtr legacy(EVP_PKEY_new());
      bool ok = legacy && EVP_PKEY_assign_EC_KEY(legacy.get(), ec) == 1;
      if (!ok) EC_KEY_free(ec);
      if (ok && X509_set_pubkey(x, legacy.get()) == 1) return;
    }
    ERR_clear_error();
  }
#pragma GCC diagnostic pop
#endif
  ossl::check(X509_set_pubkey(x, key) == 1, "X509_set_pubkey");
}

void set_common_fields(X509* x, const std::string& serial_hex, TimePoint not_before, TimePoint not_after,
                       EVP_PKEY* subject_key) {
  ossl::check(X509_set_version(x, X509_VERSION_3) == 1, "X509_set_version");
  auto serial = ossl::serial_from_hex(serial_hex);
  ossl::check(X509_set_serialNumber(x, serial.get()) == 1, "X509_set_serialNumber");
  auto nb = ossl::make_asn1_time(not_before);
  auto na = ossl::make_asn1_time(not_after);
  ossl::check(X509_set1_notBefore(x, nb.get()) == 1, "X509_set1_notBefore");
  ossl::check(X509_set1_notAfter(x, na.get()) == 1, "X509_set1_notAfter");
  set_public_key(x, subject_key);
}

void sign(X509* x, EVP_PKEY* key) {
  if (X509_sign(x, key, ossl::digest_for(key)) <= 0) throw ossl::openssl_error("signing the certificate");
}

// The CA certificate make_ca and renew_ca write.
Certificate build_ca(EVP_PKEY* key, const X509_NAME* subject, const ASN1_OCTET_STRING* ski,
                     std::optional<int> pathlen, TimePoint now, int days, const std::string& serial) {
  ossl::X509Ptr x(ossl::check_ptr(X509_new(), "X509_new"));
  set_common_fields(x.get(), serial, now - backdate, now + std::chrono::days(days), key);
  ossl::check(X509_set_subject_name(x.get(), subject) == 1, "X509_set_subject_name");
  ossl::check(X509_set_issuer_name(x.get(), subject) == 1, "X509_set_issuer_name");
  ossl::Asn1OctetStringPtr computed;
  if (ski == nullptr) {
    computed = ossl::key_id_for(X509_get_X509_PUBKEY(x.get()));
    ski = computed.get();
  }
  add_basic_constraints(x.get(), true, pathlen);
  add_key_usage(x.get(), {ku_key_cert_sign, ku_crl_sign});
  add_ext(x.get(), NID_subject_key_identifier, const_cast<ASN1_OCTET_STRING*>(ski), false);
  add_authority_key_id(x.get(), ski);
  sign(x.get(), key);
  Certificate cert = Access::make_certificate(std::move(x));
  // Cheap self-check: the new CA is a valid strict trust anchor at `now`.
  VerifyResult r = verify_chain({cert}, cert, Purpose::any, now);
  if (!r) throw Error(Errc::verify_failed, "the new CA certificate does not verify: " + r.reason);
  return cert;
}

std::string host_for_check(const GeneralName& san) {
  if (san.type == GeneralName::Type::dns && san.value.starts_with("*.")) {
    return "wildcard-check" + san.value.substr(1);
  }
  return san.value;
}

}  // namespace

Certificate make_ca(const PrivateKey& key, const CaOptions& options) {
  check_key_policy(key);
  if (!options.subject.common_name()) {
    throw Error(Errc::invalid_argument, "the CA subject needs a CN, e.g. CN=Home MQTT CA,O=Home");
  }
  check_days(options.days);
  if (options.pathlen && *options.pathlen < 0) {
    throw Error(Errc::invalid_argument, "pathlen must be 0 or more");
  }
  std::string serial = ossl::choose_serial(options.serial, options.random);
  auto name = Access::x509_name(options.subject);
  return build_ca(Access::pkey(key), name.get(), nullptr, options.pathlen, options.now, options.days, serial);
}

Certificate renew_ca(const PrivateKey& ca_key, const Certificate& old_ca, const RenewCaOptions& options) {
  if (!ca_key.matches(old_ca)) {
    throw Error(Errc::mismatch, "the CA key does not match the CA certificate");
  }
  auto bc = old_ca.basic_constraints();
  if (!bc || !bc->ca) {
    throw Error(Errc::policy, "the certificate to renew is not a CA certificate (no basicConstraints CA:TRUE)");
  }
  if (!old_ca.is_self_signed()) {
    throw Error(Errc::policy, "the CA certificate is not self-signed: only a root CA can be renewed here");
  }
  check_key_policy(ca_key);
  check_days(options.days);
  std::string serial = ossl::choose_serial(options.serial, options.random);
  X509* old = Access::x509(old_ca);
  return build_ca(Access::pkey(ca_key), X509_get_subject_name(old), X509_get0_subject_key_id(old), bc->pathlen,
                  options.now, options.days, serial);
}

std::string_view to_string(Profile profile) noexcept {
  return profile == Profile::server ? "server" : "client";
}

Profile parse_profile(std::string_view text) {
  if (text == "server") return Profile::server;
  if (text == "client") return Profile::client;
  throw Error(Errc::invalid_argument, "unknown profile \"" + std::string(text) + "\" (expected server or client)");
}

IssueRequest from_csr(const Csr& csr) {
  csr.verify_signature();
  IssueRequest r;
  r.public_key = csr.public_key();
  r.subject = csr.subject();
  r.sans = csr.sans();
  for (const auto& san : r.sans) {
    if (san.type == GeneralName::Type::other) {
      throw Error(Errc::policy, "the CSR requests the SAN " + san.value +
                                    ", which is not a type mqttpki issues (DNS, IP, URI, email)");
    }
  }
  for (auto& ext : csr.requested_extensions()) {
    if (ext != "subjectAltName") r.ignored_csr_extensions.push_back(ext);
  }
  return r;
}

IssueResult issue(const Certificate& ca_cert, const PrivateKey& ca_key, const IssueRequest& req) {
  const std::string& label = req.ca_label;
  // --- the CA
  if (!ca_key.matches(ca_cert)) {
    throw Error(Errc::mismatch, "the CA key does not match the CA certificate " + label);
  }
  if (!ca_cert.is_ca()) {
    throw Error(Errc::policy, "the CA certificate " + label + " is not a CA (no basicConstraints CA:TRUE)");
  }
  if (req.now > ca_cert.not_after()) {
    throw Error(Errc::expired, "CA certificate " + label + " expired on " + format_date(ca_cert.not_after()) +
                                   "; run `mqttpki renew --ca`");
  }
  if (req.now < ca_cert.not_before()) {
    throw Error(Errc::expired, "CA certificate " + label + " is not valid until " +
                                   format_time(ca_cert.not_before()) + "; check the system clock");
  }
  // What strict X.509 verification (used below on the result) demands of a CA, checked up front so the
  // refusal names the fix. CAs made by `openssl req -x509` lack keyUsage; renew_ca() rewrites them.
  const std::string fix = "; run `mqttpki renew --ca` to re-create it with the required extensions";
  auto ku = ca_cert.key_usage();
  if (ku.empty()) {
    throw Error(Errc::policy, "the CA certificate " + label + " has no keyUsage extension" + fix);
  }
  if (std::find(ku.begin(), ku.end(), "keyCertSign") == ku.end()) {
    throw Error(Errc::policy, "the CA certificate " + label + " does not allow certificate signing (keyUsage lacks keyCertSign)");
  }
  if (!ca_cert.subject_key_id_hex()) {
    throw Error(Errc::policy, "the CA certificate " + label + " has no subjectKeyIdentifier" + fix);
  }
  if (!ca_cert.basic_constraints()->critical) {
    throw Error(Errc::policy, "the CA certificate " + label + " has a non-critical basicConstraints extension" + fix);
  }
  VerifyOptions self_check;
  self_check.now = req.now;
  self_check.partial_chain = true;  // an intermediate CA is its own anchor here
  if (VerifyResult r = verify_chain({ca_cert}, ca_cert, self_check); !r) {
    throw Error(Errc::policy, "the CA certificate " + label + " is not usable under strict X.509 rules (" + r.reason +
                                  ")" + fix);
  }
  // --- the request
  check_key_policy(req.public_key);
  if (!req.subject.common_name()) {
    throw Error(Errc::policy, "the certificate subject needs a CN (e.g. CN=pi1)");
  }
  if (req.subject == ca_cert.subject()) {
    throw Error(Errc::policy, "the subject \"" + req.subject.to_string() +
                                  "\" is the CA's own subject; give the certificate a name of its own");
  }
  for (const auto& san : req.sans) {
    if (san.type == GeneralName::Type::other) {
      throw Error(Errc::policy, "the SAN " + san.value + " is not a type mqttpki issues (DNS, IP, URI, email)");
    }
    (void)parse_san(san.to_string());  // the same strict syntax as --san
  }
  if (req.profile == Profile::server && req.sans.empty()) {
    throw Error(Errc::policy,
                "a server certificate needs at least one SAN, the names clients connect to, e.g. "
                "`--san DNS:mqtt.example.com --san IP:203.0.113.5`");
  }
  check_days(req.days);
  std::string serial = ossl::choose_serial(req.serial, req.random);

  std::vector<std::string> warnings;
  TimePoint not_before = req.now - backdate;
  TimePoint not_after = req.now + std::chrono::days(req.days);
  TimePoint ca_not_after = ca_cert.not_after();
  if (not_after > ca_not_after) {
    not_after = ca_not_after;
    warnings.push_back("validity capped at the CA certificate's expiry on " + format_date(ca_not_after) + ": " +
                              std::to_string(std::max(0L, days_between(req.now, ca_not_after))) +
                              " days instead of " + std::to_string(req.days) +
                              "; renew the CA (`mqttpki renew --ca`) and re-issue before then");
  }
  if (!req.ignored_csr_extensions.empty()) {
    std::string list;
    for (const auto& e : req.ignored_csr_extensions) list += (list.empty() ? "" : ", ") + e;
    warnings.push_back("ignored extensions requested in the CSR (" + list +
                              "): only subjectAltName is taken from a CSR");
  }

  // --- the certificate
  EVP_PKEY* leaf_key = Access::pkey(req.public_key);
  X509* ca = Access::x509(ca_cert);
  ossl::X509Ptr x(ossl::check_ptr(X509_new(), "X509_new"));
  set_common_fields(x.get(), serial, not_before, not_after, leaf_key);
  auto subject = Access::x509_name(req.subject);
  ossl::check(X509_set_subject_name(x.get(), subject.get()) == 1, "X509_set_subject_name");
  ossl::check(X509_set_issuer_name(x.get(), X509_get_subject_name(ca)) == 1, "X509_set_issuer_name");
  add_basic_constraints(x.get(), false, std::nullopt);
  if (EVP_PKEY_is_a(leaf_key, "RSA")) {
    add_key_usage(x.get(), {ku_digital_signature, ku_key_encipherment});
  } else {
    add_key_usage(x.get(), {ku_digital_signature});
  }
  {
    ossl::ExtendedKeyUsagePtr eku(ossl::check_ptr(sk_ASN1_OBJECT_new_null(), "sk_ASN1_OBJECT_new_null"));
    ASN1_OBJECT* purpose = OBJ_nid2obj(req.profile == Profile::server ? NID_server_auth : NID_client_auth);
    ossl::check(sk_ASN1_OBJECT_push(eku.get(), purpose) > 0, "sk_ASN1_OBJECT_push");
    add_ext(x.get(), NID_ext_key_usage, eku.get(), false);
  }
  auto ski = ossl::key_id_for(X509_get_X509_PUBKEY(x.get()));
  add_ext(x.get(), NID_subject_key_identifier, ski.get(), false);
  if (const ASN1_OCTET_STRING* ca_ski = X509_get0_subject_key_id(ca)) {
    add_authority_key_id(x.get(), ca_ski);
  } else {
    auto computed = ossl::key_id_for(X509_get_X509_PUBKEY(ca));
    add_authority_key_id(x.get(), computed.get());
  }
  if (!req.sans.empty()) {
    auto names = ossl::to_general_names(req.sans);
    add_ext(x.get(), NID_subject_alt_name, names.get(), false);
  }
  sign(x.get(), Access::pkey(ca_key));
  IssueResult result{Access::make_certificate(std::move(x)), std::move(warnings)};

  // --- verify what was issued, as a TLS peer will
  VerifyOptions vo;
  vo.purpose = req.profile == Profile::server ? Purpose::server : Purpose::client;
  vo.now = req.now;
  vo.partial_chain = true;
  std::vector<std::optional<std::string>> hosts;
  if (req.profile == Profile::server) {
    for (const auto& san : req.sans) {
      if (san.type == GeneralName::Type::dns || san.type == GeneralName::Type::ip) hosts.emplace_back(host_for_check(san));
    }
  }
  if (hosts.empty()) hosts.emplace_back(std::nullopt);
  for (const auto& host : hosts) {
    vo.host = host;
    VerifyResult r = verify_chain({ca_cert}, result.certificate, vo);
    if (!r) {
      throw Error(Errc::verify_failed, "the issued certificate does not verify against the CA" +
                                           (host ? " for " + *host : std::string()) + ": " + r.reason);
    }
  }
  return result;
}

}  // namespace mqttpki::pki
