#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/pki/verify.hpp>

#include "issued_check.hpp"
#include "ossl.hpp"

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

// One extension's DER made through the X509V3 API (X509V3_EXT_i2d, what X509_add1_ext_i2d encodes with).
ossl::X509ExtensionPtr make_ext(int nid, void* value, bool critical) {
  X509_EXTENSION* ext = X509V3_EXT_i2d(nid, critical ? 1 : 0, value);
  if (ext == nullptr) throw ossl::openssl_error("encoding a certificate extension");
  return ossl::X509ExtensionPtr(ext);
}

// Appends a copy of the extension (X509_add_ext copies it).
void add_ext(X509* x, const X509_EXTENSION* ext) {
  if (X509_add_ext(x, const_cast<X509_EXTENSION*>(ext), -1) != 1) {
    throw ossl::openssl_error("adding a certificate extension");
  }
}
void add_ext(X509* x, const ossl::X509ExtensionPtr& ext) { add_ext(x, ext.get()); }

void add_ext(X509* x, int nid, void* value, bool critical) { add_ext(x, make_ext(nid, value, critical)); }

ossl::X509ExtensionPtr basic_constraints_ext(bool ca, std::optional<int> pathlen) {
  ossl::BasicConstraintsPtr bc(ossl::check_ptr(BASIC_CONSTRAINTS_new(), "BASIC_CONSTRAINTS_new"));
  bc->ca = ca ? 0xFF : 0;
  if (ca && pathlen) {
    bc->pathlen = ossl::check_ptr(ASN1_INTEGER_new(), "ASN1_INTEGER_new");
    ossl::check(ASN1_INTEGER_set(bc->pathlen, *pathlen) == 1, "ASN1_INTEGER_set");
  }
  return make_ext(NID_basic_constraints, bc.get(), true);
}

// Bits as numbered in RFC 5280 KeyUsage: digitalSignature(0) ... cRLSign(6).
ossl::X509ExtensionPtr key_usage_ext(std::initializer_list<int> bits) {
  ossl::Asn1BitStringPtr ku(ossl::check_ptr(ASN1_BIT_STRING_new(), "ASN1_BIT_STRING_new"));
  for (int bit : bits) ossl::check(ASN1_BIT_STRING_set_bit(ku.get(), bit, 1) == 1, "ASN1_BIT_STRING_set_bit");
  return make_ext(NID_key_usage, ku.get(), true);
}
constexpr int ku_digital_signature = 0;
constexpr int ku_key_encipherment = 2;
constexpr int ku_key_cert_sign = 5;
constexpr int ku_crl_sign = 6;

ossl::X509ExtensionPtr extended_key_usage_ext(int purpose_nid) {
  ossl::ExtendedKeyUsagePtr eku(ossl::check_ptr(sk_ASN1_OBJECT_new_null(), "sk_ASN1_OBJECT_new_null"));
  ossl::check(sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(purpose_nid)) > 0, "sk_ASN1_OBJECT_push");
  return make_ext(NID_ext_key_usage, eku.get(), false);
}

ossl::X509ExtensionPtr authority_key_id_ext(const ASN1_OCTET_STRING* keyid) {
  ossl::AuthorityKeyIdPtr aki(ossl::check_ptr(AUTHORITY_KEYID_new(), "AUTHORITY_KEYID_new"));
  aki->keyid = ossl::check_ptr(ASN1_OCTET_STRING_dup(keyid), "ASN1_OCTET_STRING_dup");
  return make_ext(NID_authority_key_identifier, aki.get(), false);
}

// X509_set_pubkey without OpenSSL 3.0's encoder/decoder round trip for EC keys (see ec_key_for_encoding);
// the bytes written are the same (unit tests compare the issued certificate's SubjectPublicKeyInfo with
// the key's). Everything else goes the documented way.
void set_public_key(X509* x, EVP_PKEY* key, EVP_PKEY* encoding_key) {
  if (encoding_key != nullptr) {
    ossl::check(X509_set_pubkey(x, encoding_key) == 1, "X509_set_pubkey");
    return;
  }
  if (ossl::EvpPkeyPtr direct = ossl::ec_key_for_encoding(key)) {
    ossl::check(X509_set_pubkey(x, direct.get()) == 1, "X509_set_pubkey");
    return;
  }
  ossl::check(X509_set_pubkey(x, key) == 1, "X509_set_pubkey");
}

// encoding_key: the subject key's ASN.1-method twin when known (PublicKey::Impl::encoding_key), else null.
void set_common_fields(X509* x, ASN1_INTEGER* serial, TimePoint not_before, TimePoint not_after,
                       EVP_PKEY* subject_key, EVP_PKEY* encoding_key = nullptr) {
  ossl::check(X509_set_version(x, X509_VERSION_3) == 1, "X509_set_version");
  ossl::check(X509_set_serialNumber(x, serial) == 1, "X509_set_serialNumber");
  // Written into the certificate's own ASN1_TIMEs, as make_asn1_time would make them (UTCTime until 2049,
  // GeneralizedTime after), without a copy.
  ossl::check(ASN1_TIME_set(X509_getm_notBefore(x), ossl::to_time_t(not_before)) != nullptr, "ASN1_TIME_set");
  ossl::check(ASN1_TIME_set(X509_getm_notAfter(x), ossl::to_time_t(not_after)) != nullptr, "ASN1_TIME_set");
  set_public_key(x, subject_key, encoding_key);
}

void sign(X509* x, EVP_PKEY* key) {
  if (X509_sign(x, key, ossl::digest_for(key)) <= 0) throw ossl::openssl_error("signing the certificate");
}

// The CA certificate make_ca and renew_ca write.
Certificate build_ca(EVP_PKEY* key, const X509_NAME* subject, const ASN1_OCTET_STRING* ski,
                     std::optional<int> pathlen, TimePoint now, int days, ASN1_INTEGER* serial) {
  ossl::X509Ptr x(ossl::check_ptr(X509_new(), "X509_new"));
  set_common_fields(x.get(), serial, now - backdate, now + std::chrono::days(days), key);
  ossl::check(X509_set_subject_name(x.get(), subject) == 1, "X509_set_subject_name");
  ossl::check(X509_set_issuer_name(x.get(), subject) == 1, "X509_set_issuer_name");
  ossl::Asn1OctetStringPtr computed;
  if (ski == nullptr) {
    computed = ossl::key_id_for(X509_get_X509_PUBKEY(x.get()));
    ski = computed.get();
  }
  add_ext(x.get(), basic_constraints_ext(true, pathlen));
  add_ext(x.get(), key_usage_ext({ku_key_cert_sign, ku_crl_sign}));
  add_ext(x.get(), NID_subject_key_identifier, const_cast<ASN1_OCTET_STRING*>(ski), false);
  add_ext(x.get(), authority_key_id_ext(ski));
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
  auto serial = ossl::choose_serial_integer(options.serial, options.random);
  auto name = Access::x509_name(options.subject);
  return build_ca(Access::pkey(key), name.get(), nullptr, options.pathlen, options.now, options.days, serial.get());
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
  auto serial = ossl::choose_serial_integer(options.serial, options.random);
  X509* old = Access::x509(old_ca);
  return build_ca(Access::pkey(ca_key), X509_get_subject_name(old), X509_get0_subject_key_id(old), bc->pathlen,
                  options.now, options.days, serial.get());
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

struct Issuer::Impl {
  Certificate cert;
  PrivateKey key;
  std::string label;
  TimePoint not_before;
  TimePoint not_after;
  ossl::Asn1OctetStringPtr key_id;              // for the authorityKeyIdentifier
  ossl::Ptr<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free> name_constraints;  // null if the CA has none
  bool verify_each_signature = false;            // Ed25519: see Issuer in ca.hpp
  // EVP_DigestSignInit_ex done once (algorithm fetches, provider context); each certificate signs with a
  // copy (EVP_MD_CTX_copy_ex only reads it, so threads may share it). Null for Ed25519, whose one-shot
  // context cannot be copied before use: it is set up per certificate.
  ossl::EvpMdCtxPtr sign_template;
  // The extensions that are the same in every leaf this CA issues, encoded once (X509V3_EXT_i2d, as
  // X509_add1_ext_i2d would per certificate); issue() attaches copies. Only the subjectKeyIdentifier and
  // subjectAltName are made per certificate.
  struct {
    ossl::X509ExtensionPtr basic_constraints;  // critical CA:FALSE
    ossl::X509ExtensionPtr key_usage;          // critical digitalSignature
    ossl::X509ExtensionPtr key_usage_rsa;      // critical digitalSignature, keyEncipherment
    ossl::X509ExtensionPtr eku_server;         // serverAuth
    ossl::X509ExtensionPtr eku_client;         // clientAuth
    ossl::X509ExtensionPtr authority_key_id;   // keyid: the CA's subjectKeyIdentifier
  } leaf_ext;

  void sign(X509* x) const {
    if (!sign_template) {
      mqttpki::pki::sign(x, Access::pkey(key));
      return;
    }
    ossl::EvpMdCtxPtr ctx(ossl::check_ptr(EVP_MD_CTX_new(), "EVP_MD_CTX_new"));
    ossl::check(EVP_MD_CTX_copy_ex(ctx.get(), sign_template.get()) == 1, "EVP_MD_CTX_copy_ex");
    // Sign on this copy itself rather than on yet another copy of it (it is used once).
    EVP_MD_CTX_set_flags(ctx.get(), EVP_MD_CTX_FLAG_FINALISE);
    if (X509_sign_ctx(x, ctx.get()) <= 0) throw ossl::openssl_error("signing the certificate");
  }
};

Issuer::Issuer(const Certificate& ca_cert, const PrivateKey& ca_key, std::string ca_label) {
  const std::string& label = ca_label;
  if (!ca_key.matches(ca_cert)) {
    throw Error(Errc::mismatch, "the CA key does not match the CA certificate " + label);
  }
  if (!ca_cert.is_ca()) {
    throw Error(Errc::policy, "the CA certificate " + label + " is not a CA (no basicConstraints CA:TRUE)");
  }
  // What strict X.509 verification demands of a CA, checked up front so the refusal names the fix. CAs
  // made by `openssl req -x509` lack keyUsage; renew_ca() rewrites them.
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
  const TimePoint not_before = ca_cert.not_before();
  const TimePoint not_after = ca_cert.not_after();
  // Everything else strict verification checks of the CA, once; the time is checked per request.
  VerifyOptions self_check;
  self_check.now = not_before + (not_after - not_before) / 2;
  self_check.partial_chain = true;  // an intermediate CA is its own anchor here
  if (VerifyResult r = verify_chain({ca_cert}, ca_cert, self_check); !r) {
    throw Error(Errc::policy, "the CA certificate " + label + " is not usable under strict X.509 rules (" + r.reason +
                                  ")" + fix);
  }
  X509* ca = Access::x509(ca_cert);
  ossl::Asn1OctetStringPtr key_id(
      ossl::check_ptr(ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(ca)), "ASN1_OCTET_STRING_dup"));
  ossl::Ptr<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free> name_constraints(
      static_cast<NAME_CONSTRAINTS*>(X509_get_ext_d2i(ca, NID_name_constraints, nullptr, nullptr)));
  ERR_clear_error();
  EVP_PKEY* signing_key = Access::pkey(ca_key);
  const EVP_MD* md = ossl::digest_for(signing_key);
  const bool verify_each_signature = md == nullptr;  // Ed25519, Ed448
  ossl::EvpMdCtxPtr sign_template;
  if (md != nullptr) {
    sign_template.reset(ossl::check_ptr(EVP_MD_CTX_new(), "EVP_MD_CTX_new"));
    ossl::check(EVP_DigestSignInit_ex(sign_template.get(), nullptr, EVP_MD_get0_name(md), nullptr, nullptr,
                                      signing_key, nullptr) == 1,
                "EVP_DigestSignInit_ex");
  }
  auto impl = std::make_shared<Impl>(Impl{ca_cert, ca_key, std::move(ca_label), not_before, not_after,
                                         std::move(key_id), std::move(name_constraints), verify_each_signature,
                                         std::move(sign_template), {}});
  impl->leaf_ext.basic_constraints = basic_constraints_ext(false, std::nullopt);
  impl->leaf_ext.key_usage = key_usage_ext({ku_digital_signature});
  impl->leaf_ext.key_usage_rsa = key_usage_ext({ku_digital_signature, ku_key_encipherment});
  impl->leaf_ext.eku_server = extended_key_usage_ext(NID_server_auth);
  impl->leaf_ext.eku_client = extended_key_usage_ext(NID_client_auth);
  impl->leaf_ext.authority_key_id = authority_key_id_ext(impl->key_id.get());
  // Their values pass the post-check once here, so that issue() need not decode them again (see
  // IssuedExpectations::checked); a certificate whose bytes differ is still decoded and checked.
  for (bool server : {false, true}) {
    detail::IssuedExpectations expect;
    expect.ca_key_id = impl->key_id.get();
    expect.server = server;
    for (const auto* ext : {&impl->leaf_ext.basic_constraints, &impl->leaf_ext.key_usage,
                            &impl->leaf_ext.key_usage_rsa, &impl->leaf_ext.authority_key_id,
                            server ? &impl->leaf_ext.eku_server : &impl->leaf_ext.eku_client}) {
      if (auto problem = detail::extension_value_problem(ext->get(), expect)) {
        throw Error(Errc::crypto, "the leaf extensions prepared for the CA " + label + " are wrong: " + *problem);
      }
    }
  }
  impl_ = std::move(impl);
}

const Certificate& Issuer::ca_certificate() const noexcept { return impl_->cert; }
const std::string& Issuer::ca_label() const noexcept { return impl_->label; }

IssueResult issue(const Certificate& ca_cert, const PrivateKey& ca_key, const IssueRequest& req) {
  return Issuer(ca_cert, ca_key, req.ca_label).issue(req);
}

IssueResult Issuer::issue(const IssueRequest& req) const {
  const Impl& ca_info = *impl_;
  const std::string& label = ca_info.label;
  // --- the CA at this time
  if (req.now > ca_info.not_after) {
    throw Error(Errc::expired, "CA certificate " + label + " expired on " + format_date(ca_info.not_after) +
                                   "; run `mqttpki renew --ca`");
  }
  if (req.now < ca_info.not_before) {
    throw Error(Errc::expired, "CA certificate " + label + " is not valid until " +
                                   format_time(ca_info.not_before) + "; check the system clock");
  }

  // --- the request
  check_key_policy(req.public_key);
  X509* ca = Access::x509(ca_info.cert);
  ossl::X509NamePtr subject_holder;  // decoded once for these checks and the certificate (if not already)
  const X509_NAME* subject = Access::x509_name_view(req.subject, subject_holder);
  if (X509_NAME_get_index_by_NID(subject, NID_commonName, -1) < 0) {
    throw Error(Errc::policy, "the certificate subject needs a CN (e.g. CN=pi1)");
  }
  if (X509_NAME_cmp(subject, X509_get_subject_name(ca)) == 0) {  // as Name's operator==
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
  auto serial = ossl::choose_serial_integer(req.serial, req.random);

  std::vector<std::string> warnings;
  TimePoint not_before = req.now - backdate;
  TimePoint not_after = req.now + std::chrono::days(req.days);
  TimePoint ca_not_after = ca_info.not_after;
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
  ossl::X509Ptr x(ossl::check_ptr(X509_new(), "X509_new"));
  set_common_fields(x.get(), serial.get(), not_before, not_after, leaf_key, Access::encoding_key(req.public_key));
  ossl::check(X509_set_subject_name(x.get(), subject) == 1, "X509_set_subject_name");
  ossl::check(X509_set_issuer_name(x.get(), X509_get_subject_name(ca)) == 1, "X509_set_issuer_name");
  const X509_EXTENSION* key_usage =
      (EVP_PKEY_is_a(leaf_key, "RSA") ? ca_info.leaf_ext.key_usage_rsa : ca_info.leaf_ext.key_usage).get();
  const X509_EXTENSION* eku =
      (req.profile == Profile::server ? ca_info.leaf_ext.eku_server : ca_info.leaf_ext.eku_client).get();
  add_ext(x.get(), ca_info.leaf_ext.basic_constraints);
  add_ext(x.get(), key_usage);
  add_ext(x.get(), eku);
  auto ski = ossl::key_id_for(X509_get_X509_PUBKEY(x.get()));
  add_ext(x.get(), NID_subject_key_identifier, ski.get(), false);
  add_ext(x.get(), ca_info.leaf_ext.authority_key_id);
  if (!req.sans.empty()) {
    auto names = ossl::to_general_names(req.sans);
    add_ext(x.get(), NID_subject_alt_name, names.get(), false);
  }
  ca_info.sign(x.get());

  // --- check what was issued, as a TLS peer will, except for re-verifying the signature (see Issuer)
  auto refuse = [](const std::string& why) {
    throw Error(Errc::verify_failed, "the issued certificate does not verify against the CA: " + why);
  };
  if (ca_info.verify_each_signature && X509_verify(x.get(), X509_get0_pubkey(ca)) != 1) {
    ERR_clear_error();
    refuse("certificate signature failure");
  }
  // What X509_check_issued and X509_check_purpose checked, on the certificate as built (see
  // issued_check.hpp); the CA's keyUsage (keyCertSign) was checked when this Issuer was made.
  detail::IssuedExpectations expect;
  expect.ca_subject = X509_get_subject_name(ca);
  expect.ca_key = Access::pkey(ca_info.key);
  expect.ca_key_id = ca_info.key_id.get();
  expect.server = req.profile == Profile::server;
  expect.has_sans = !req.sans.empty();
  expect.checked = {ca_info.leaf_ext.basic_constraints.get(), key_usage, eku, ca_info.leaf_ext.authority_key_id.get()};
  if (auto problem = detail::issued_certificate_problem(x.get(), expect)) refuse(*problem);
  if (ossl::from_asn1_time(X509_get0_notBefore(x.get())) > req.now ||
      ossl::from_asn1_time(X509_get0_notAfter(x.get())) < req.now) {
    refuse("not valid at the time of issue");
  }
  if (ossl::from_asn1_time(X509_get0_notAfter(x.get())) > ca_info.not_after) refuse("valid beyond the CA's expiry");
  if (ca_info.name_constraints) {
    // NAME_CONSTRAINTS_check reads the subjectAltName from OpenSSL's extension cache: fill it first.
    (void)X509_get_extension_flags(x.get());
    int rc = NAME_CONSTRAINTS_check(x.get(), ca_info.name_constraints.get());
    if (rc == X509_V_OK) rc = NAME_CONSTRAINTS_check_CN(x.get(), ca_info.name_constraints.get());
    if (rc != X509_V_OK) refuse(X509_verify_cert_error_string(rc));
  }
  if (req.profile == Profile::server) {
    for (const auto& san : req.sans) {
      if (san.type != GeneralName::Type::dns && san.type != GeneralName::Type::ip) continue;
      const std::string host = host_for_check(san);
      const int match = san.type == GeneralName::Type::ip
                            ? X509_check_ip_asc(x.get(), host.c_str(), 0)
                            : X509_check_host(x.get(), host.c_str(), host.size(), 0, nullptr);
      if (match != 1) {
        ERR_clear_error();
        throw Error(Errc::verify_failed, "the issued certificate does not verify against the CA for " + host + ": " +
                                             X509_verify_cert_error_string(san.type == GeneralName::Type::ip
                                                                               ? X509_V_ERR_IP_ADDRESS_MISMATCH
                                                                               : X509_V_ERR_HOSTNAME_MISMATCH));
      }
    }
  }
  return IssueResult{Access::make_certificate(std::move(x)), std::move(warnings)};
}

}  // namespace mqttpki::pki
