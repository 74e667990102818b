#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/pki/verify.hpp>

#include "ossl.hpp"

#include <algorithm>

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

// An extension from its configuration text (ossl::make_extension) added to x; issuer is the certificate
// the authorityKeyIdentifier refers to.
void add_ext(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  ossl::check(X509_add_ext(x, ossl::make_extension(ctx, nid, value).get(), -1) == 1, "X509_add_ext");
}

// An extension from its OpenSSL value type (a SubjectKeyIdentifier, GENERAL_NAMES, ...).
void add_ext(X509* x, int nid, void* value, bool critical) {
  if (X509_add1_ext_i2d(x, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1) {
    throw ossl::openssl_error("adding a certificate extension");
  }
}

void set_common_fields(X509* x, const std::string& serial_hex, TimePoint not_before, TimePoint not_after,
                       EVP_PKEY* subject_key) {
  ossl::check(X509_set_version(x, X509_VERSION_3) == 1, "X509_set_version");
  ossl::check(X509_set_serialNumber(x, ossl::serial_from_hex(serial_hex).get()) == 1, "X509_set_serialNumber");
  ossl::check(X509_set1_notBefore(x, ossl::make_asn1_time(not_before).get()) == 1, "X509_set1_notBefore");
  ossl::check(X509_set1_notAfter(x, ossl::make_asn1_time(not_after).get()) == 1, "X509_set1_notAfter");
  ossl::check(X509_set_pubkey(x, subject_key) == 1, "X509_set_pubkey");
}

void sign(X509* x, EVP_PKEY* key) {
  if (X509_sign(x, key, ossl::digest_for(key)) <= 0) throw ossl::openssl_error("signing the certificate");
}

// The CA certificate make_ca and renew_ca write.
Certificate build_ca(EVP_PKEY* key, const X509_NAME* subject, const ASN1_OCTET_STRING* ski,
                     std::optional<int> pathlen, TimePoint now, int days, const std::string& serial_hex) {
  ossl::X509Ptr x(ossl::check_ptr(X509_new(), "X509_new"));
  set_common_fields(x.get(), serial_hex, now - backdate, now + std::chrono::days(days), key);
  ossl::check(X509_set_subject_name(x.get(), subject) == 1, "X509_set_subject_name");
  ossl::check(X509_set_issuer_name(x.get(), subject) == 1, "X509_set_issuer_name");
  const std::string basic_constraints =
      "critical,CA:TRUE" + (pathlen ? ",pathlen:" + std::to_string(*pathlen) : std::string());
  add_ext(x.get(), x.get(), NID_basic_constraints, basic_constraints.c_str());
  add_ext(x.get(), x.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  if (ski != nullptr) {
    add_ext(x.get(), NID_subject_key_identifier, const_cast<ASN1_OCTET_STRING*>(ski), false);
  } else {
    add_ext(x.get(), x.get(), NID_subject_key_identifier, "hash");
  }
  add_ext(x.get(), x.get(), NID_authority_key_identifier, "keyid:always");
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
  auto name = Access::x509_name(options.subject);
  return build_ca(Access::pkey(key), name.get(), nullptr, options.pathlen, options.now, options.days,
                  ossl::choose_serial(options.serial, options.random));
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
  X509* old = Access::x509(old_ca);
  return build_ca(Access::pkey(ca_key), X509_get_subject_name(old), X509_get0_subject_key_id(old), bc->pathlen,
                  options.now, options.days, ossl::choose_serial(options.serial, options.random));
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

namespace {

// What an Issuer holds (Issuer::Impl is this, named where the helpers below can see it).
struct IssuingCa {
  Certificate cert;
  PrivateKey key;
  std::string label;
  TimePoint not_before;
  TimePoint not_after;
  ossl::NameConstraintsPtr name_constraints;  // null if the CA has none
  bool verify_each_signature = false;  // Ed25519: see Issuer in ca.hpp
};

// What strict X.509 verification demands of a CA, checked up front so the refusal names the fix. CAs
// made by `openssl req -x509` lack keyUsage; renew_ca() rewrites them.
void check_issuing_ca(const Certificate& ca_cert, const PrivateKey& ca_key, const std::string& label) {
  if (!ca_key.matches(ca_cert)) {
    throw Error(Errc::mismatch, "the CA key does not match the CA certificate " + label);
  }
  if (!ca_cert.is_ca()) {
    throw Error(Errc::policy, "the CA certificate " + label + " is not a CA (no basicConstraints CA:TRUE)");
  }
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
  // Everything else strict verification checks of the CA, once; the time is checked per request.
  VerifyOptions self_check;
  self_check.now = ca_cert.not_before() + (ca_cert.not_after() - ca_cert.not_before()) / 2;
  self_check.partial_chain = true;  // an intermediate CA is its own anchor here
  if (VerifyResult r = verify_chain({ca_cert}, ca_cert, self_check); !r) {
    throw Error(Errc::policy, "the CA certificate " + label + " is not usable under strict X.509 rules (" + r.reason +
                                  ")" + fix);
  }
}

// The CA at the time of the request.
void check_ca_time(const IssuingCa& ca, TimePoint now) {
  if (now > ca.not_after) {
    throw Error(Errc::expired, "CA certificate " + ca.label + " expired on " + format_date(ca.not_after) +
                                   "; run `mqttpki renew --ca`");
  }
  if (now < ca.not_before) {
    throw Error(Errc::expired, "CA certificate " + ca.label + " is not valid until " + format_time(ca.not_before) +
                                   "; check the system clock");
  }
}

// The request: key policy, subject, SANs, days.
void check_request(const IssuingCa& ca, const IssueRequest& req, const X509_NAME* subject) {
  check_key_policy(req.public_key);
  if (X509_NAME_get_index_by_NID(subject, NID_commonName, -1) < 0) {
    throw Error(Errc::policy, "the certificate subject needs a CN (e.g. CN=pi1)");
  }
  if (X509_NAME_cmp(subject, X509_get_subject_name(Access::x509(ca.cert))) == 0) {  // as Name's operator==
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
}

// notAfter: now + days, capped at the CA's expiry (with a warning).
TimePoint leaf_not_after(const IssuingCa& ca, const IssueRequest& req, std::vector<std::string>& warnings) {
  const TimePoint wanted = req.now + std::chrono::days(req.days);
  if (wanted <= ca.not_after) return wanted;
  warnings.push_back("validity capped at the CA certificate's expiry on " + format_date(ca.not_after) + ": " +
                     std::to_string(std::max(0L, days_between(req.now, ca.not_after))) + " days instead of " +
                     std::to_string(req.days) + "; renew the CA (`mqttpki renew --ca`) and re-issue before then");
  return ca.not_after;
}

void warn_ignored_extensions(const IssueRequest& req, std::vector<std::string>& warnings) {
  if (req.ignored_csr_extensions.empty()) return;
  std::string list;
  for (const auto& e : req.ignored_csr_extensions) list += (list.empty() ? "" : ", ") + e;
  warnings.push_back("ignored extensions requested in the CSR (" + list + "): only subjectAltName is taken from a CSR");
}

// The certificate, signed.
ossl::X509Ptr build_leaf(const IssuingCa& ca, const IssueRequest& req, const X509_NAME* subject,
                         TimePoint not_after) {
  X509* ca_x509 = Access::x509(ca.cert);
  EVP_PKEY* leaf_key = Access::pkey(req.public_key);
  ossl::X509Ptr x(ossl::check_ptr(X509_new(), "X509_new"));
  set_common_fields(x.get(), ossl::choose_serial(req.serial, req.random), req.now - backdate, not_after, leaf_key);
  ossl::check(X509_set_subject_name(x.get(), subject) == 1, "X509_set_subject_name");
  ossl::check(X509_set_issuer_name(x.get(), X509_get_subject_name(ca_x509)) == 1, "X509_set_issuer_name");
  add_ext(x.get(), ca_x509, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(x.get(), ca_x509, NID_key_usage,
          EVP_PKEY_is_a(leaf_key, "RSA") ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature");
  add_ext(x.get(), ca_x509, NID_ext_key_usage, req.profile == Profile::server ? "serverAuth" : "clientAuth");
  add_ext(x.get(), ca_x509, NID_subject_key_identifier, "hash");
  add_ext(x.get(), ca_x509, NID_authority_key_identifier, "keyid:always");
  if (!req.sans.empty()) add_ext(x.get(), NID_subject_alt_name, ossl::to_general_names(req.sans).get(), false);
  sign(x.get(), Access::pkey(ca.key));
  return x;
}

[[noreturn]] void refuse_issued(const std::string& why) {
  throw Error(Errc::verify_failed, "the issued certificate does not verify against the CA: " + why);
}

// Each DNS / IP SAN of a server certificate matches as the host a client connects to.
void check_server_names(X509* x, const IssueRequest& req) {
  for (const auto& san : req.sans) {
    if (san.type != GeneralName::Type::dns && san.type != GeneralName::Type::ip) continue;
    const std::string host = host_for_check(san);
    const bool ip = san.type == GeneralName::Type::ip;
    const int match = ip ? X509_check_ip_asc(x, host.c_str(), 0) : X509_check_host(x, host.c_str(), host.size(), 0, nullptr);
    if (match != 1) {
      ERR_clear_error();
      throw Error(Errc::verify_failed,
                  "the issued certificate does not verify against the CA for " + host + ": " +
                      X509_verify_cert_error_string(ip ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH));
    }
  }
}

// What was issued, as a TLS peer will check it, except for re-verifying the signature (see Issuer):
// X509_check_issued (names, AKI/SKI, the CA's keyUsage), X509_check_purpose, the validity, the CA's name
// constraints and, for servers, the host names.
void check_issued(const IssuingCa& ca, X509* x, const IssueRequest& req) {
  X509* ca_x509 = Access::x509(ca.cert);
  if (ca.verify_each_signature && X509_verify(x, X509_get0_pubkey(ca_x509)) != 1) {
    ERR_clear_error();
    refuse_issued("certificate signature failure");
  }
  if (const int rc = X509_check_issued(ca_x509, x); rc != X509_V_OK) refuse_issued(X509_verify_cert_error_string(rc));
  const int purpose = req.profile == Profile::server ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT;
  if (X509_check_purpose(x, purpose, 0) != 1) {
    ERR_clear_error();
    refuse_issued(X509_verify_cert_error_string(X509_V_ERR_INVALID_PURPOSE));
  }
  const TimePoint not_before = ossl::from_asn1_time(X509_get0_notBefore(x));
  const TimePoint not_after = ossl::from_asn1_time(X509_get0_notAfter(x));
  if (not_before > req.now || not_after < req.now) refuse_issued("not valid at the time of issue");
  if (not_after > ca.not_after) refuse_issued("valid beyond the CA's expiry");
  if (ca.name_constraints) {
    int rc = NAME_CONSTRAINTS_check(x, ca.name_constraints.get());
    if (rc == X509_V_OK) rc = NAME_CONSTRAINTS_check_CN(x, ca.name_constraints.get());
    if (rc != X509_V_OK) refuse_issued(X509_verify_cert_error_string(rc));
  }
  if (req.profile == Profile::server) check_server_names(x, req);
}

}  // namespace

struct Issuer::Impl : IssuingCa {};

Issuer::Issuer(const Certificate& ca_cert, const PrivateKey& ca_key, std::string ca_label) {
  check_issuing_ca(ca_cert, ca_key, ca_label);
  ossl::NameConstraintsPtr name_constraints(static_cast<NAME_CONSTRAINTS*>(
      X509_get_ext_d2i(Access::x509(ca_cert), NID_name_constraints, nullptr, nullptr)));
  ERR_clear_error();
  const bool verify_each_signature = ossl::digest_for(Access::pkey(ca_key)) == nullptr;  // Ed25519, Ed448
  impl_ = std::make_shared<const Impl>(Impl{{ca_cert, ca_key, std::move(ca_label), ca_cert.not_before(),
                                            ca_cert.not_after(), std::move(name_constraints), verify_each_signature}});
}

const Certificate& Issuer::ca_certificate() const noexcept { return impl_->cert; }
const std::string& Issuer::ca_label() const noexcept { return impl_->label; }

IssueResult issue(const Certificate& ca_cert, const PrivateKey& ca_key, const IssueRequest& req) {
  return Issuer(ca_cert, ca_key, req.ca_label).issue(req);
}

IssueResult Issuer::issue(const IssueRequest& req) const {
  const Impl& ca = *impl_;
  check_ca_time(ca, req.now);
  const ossl::X509NamePtr subject = Access::x509_name(req.subject);
  check_request(ca, req, subject.get());
  std::vector<std::string> warnings;
  const TimePoint not_after = leaf_not_after(ca, req, warnings);
  warn_ignored_extensions(req, warnings);
  ossl::X509Ptr x = build_leaf(ca, req, subject.get(), not_after);
  check_issued(ca, x.get(), req);
  return IssueResult{Access::make_certificate(std::move(x)), std::move(warnings)};
}

}  // namespace mqttpki::pki
