#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/util.hpp>

#include "ossl.hpp"
#include "pem.hpp"

#include <openssl/pem.h>

#include <array>

namespace mqttpki::pki {

using detail::Access;

namespace {

constexpr std::string_view expected_cert = "a certificate (PEM 'BEGIN CERTIFICATE' or DER)";

ossl::X509Ptr parse_der(const Bytes& der) {
  const unsigned char* p = der.data();
  ossl::X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x || p != der.data() + der.size()) {
    ERR_clear_error();
    return nullptr;
  }
  return x;
}

std::vector<Certificate> load_many(ByteView data, bool only_one) {
  std::vector<Certificate> out;
  if (!pem::looks_like_pem(data)) {
    Bytes der(data.begin(), data.end());
    auto x = parse_der(der);
    if (!x) pem::throw_expected(expected_cert, pem::describe_input(data));
    out.push_back(Access::make_certificate(std::move(x)));
    return out;
  }
  auto blocks = pem::read_blocks(data);
  for (const auto& b : blocks) {
    if (pem::kind_of_label(b.label, false) != ObjectKind::certificate) {
      if (out.empty()) pem::throw_expected(expected_cert, pem::describe_input(data));
      pem::throw_expected(std::string(only_one ? "one certificate" : "only certificates") + " (PEM 'BEGIN CERTIFICATE')",
                          pem::describe_block(b) + " after certificate " + std::to_string(out.size()));
    }
    if (b.label == "TRUSTED CERTIFICATE") {
      // OpenSSL's X509_AUX form: a certificate followed by trust settings.
      const unsigned char* p = b.der.data();
      X509* x = d2i_X509_AUX(nullptr, &p, static_cast<long>(b.der.size()));
      if (x == nullptr) throw Error(Errc::bad_format, "truncated or damaged PEM (the certificate does not parse)");
      out.push_back(Access::make_certificate(ossl::X509Ptr(x)));
      continue;
    }
    auto x = parse_der(b.der);
    if (!x) throw Error(Errc::bad_format, "truncated or damaged PEM (the certificate does not parse)");
    out.push_back(Access::make_certificate(std::move(x)));
  }
  if (only_one && out.size() > 1) {
    throw Error(Errc::bad_format,
                "expected one certificate, found " + std::to_string(out.size()) + " (a chain or bundle)");
  }
  return out;
}

}  // namespace

Certificate::Certificate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Certificate Certificate::load(ByteView data) { return load_many(data, true).front(); }
std::vector<Certificate> Certificate::load_chain(ByteView data) { return load_many(data, false); }

std::string Certificate::to_pem() const {
  auto bio = ossl::new_mem_bio();
  ossl::check(PEM_write_bio_X509(bio.get(), Access::x509(*this)) == 1, "PEM_write_bio_X509");
  return ossl::bio_to_string(bio.get());
}

std::string certificate_pem(ByteView der) {
  auto bio = ossl::new_mem_bio();
  ossl::check(PEM_write_bio(bio.get(), PEM_STRING_X509, "", der.data(), static_cast<long>(der.size())) > 0,
              "PEM_write_bio");
  return ossl::bio_to_string(bio.get());
}

Bytes Certificate::to_der() const {
  return ossl::i2d_bytes(i2d_X509, Access::x509(*this), "i2d_X509");
}

int Certificate::version() const { return static_cast<int>(X509_get_version(Access::x509(*this))) + 1; }
Name Certificate::subject() const { return Access::make_name(X509_get_subject_name(Access::x509(*this))); }
Name Certificate::issuer() const { return Access::make_name(X509_get_issuer_name(Access::x509(*this))); }
std::string Certificate::serial_hex() const {
  return ossl::serial_to_hex(X509_get0_serialNumber(Access::x509(*this)));
}
TimePoint Certificate::not_before() const { return ossl::from_asn1_time(X509_get0_notBefore(Access::x509(*this))); }
TimePoint Certificate::not_after() const { return ossl::from_asn1_time(X509_get0_notAfter(Access::x509(*this))); }

std::vector<GeneralName> Certificate::sans() const {
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(Access::x509(*this), NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) {
    ERR_clear_error();
    return {};
  }
  ossl::GeneralNamesPtr owner(names);
  return ossl::from_general_names(names);
}

PublicKey Certificate::public_key() const {
  EVP_PKEY* pub = X509_get0_pubkey(Access::x509(*this));
  if (pub == nullptr) throw ossl::openssl_error("the certificate's public key", Errc::bad_format);
  return Access::make_public_ref(pub);
}

Bytes Certificate::public_key_der() const {
  return ossl::i2d_bytes(i2d_X509_PUBKEY, X509_get_X509_PUBKEY(Access::x509(*this)), "i2d_X509_PUBKEY");
}

std::string Certificate::key_type_name() const {
  EVP_PKEY* pub = X509_get0_pubkey(Access::x509(*this));
  if (pub == nullptr) {
    ERR_clear_error();
    return "unknown key type";
  }
  return public_key().type_name();
}

std::string Certificate::signature_algorithm() const {
  int nid = X509_get_signature_nid(Access::x509(*this));
  const char* ln = OBJ_nid2ln(nid);
  return ln != nullptr ? std::string(ln) : std::string("unknown");
}

std::vector<std::string> Certificate::key_usage() const {
  X509* x = Access::x509(*this);
  std::vector<std::string> out;
  if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) == 0) return out;
  std::uint32_t ku = X509_get_key_usage(x);
  static constexpr std::array<std::pair<std::uint32_t, const char*>, 9> bits{{
      {KU_DIGITAL_SIGNATURE, "digitalSignature"},
      {KU_NON_REPUDIATION, "nonRepudiation"},
      {KU_KEY_ENCIPHERMENT, "keyEncipherment"},
      {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
      {KU_KEY_AGREEMENT, "keyAgreement"},
      {KU_KEY_CERT_SIGN, "keyCertSign"},
      {KU_CRL_SIGN, "cRLSign"},
      {KU_ENCIPHER_ONLY, "encipherOnly"},
      {KU_DECIPHER_ONLY, "decipherOnly"},
  }};
  for (const auto& [bit, name] : bits) {
    if ((ku & bit) != 0) out.emplace_back(name);
  }
  return out;
}

namespace {
bool extension_critical(X509* x, int nid) {
  int idx = X509_get_ext_by_NID(x, nid, -1);
  if (idx < 0) return false;
  return X509_EXTENSION_get_critical(X509_get_ext(x, idx)) == 1;
}
}  // namespace

bool Certificate::key_usage_critical() const { return extension_critical(Access::x509(*this), NID_key_usage); }

std::vector<std::string> Certificate::extended_key_usage() const {
  auto* eku = static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(Access::x509(*this), NID_ext_key_usage, nullptr, nullptr));
  std::vector<std::string> out;
  if (eku == nullptr) {
    ERR_clear_error();
    return out;
  }
  ossl::ExtendedKeyUsagePtr owner(eku);
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku); ++i) out.push_back(ossl::object_name(sk_ASN1_OBJECT_value(eku, i)));
  return out;
}

std::optional<BasicConstraints> Certificate::basic_constraints() const {
  int crit = 0;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(Access::x509(*this), NID_basic_constraints, &crit, nullptr));
  if (bc == nullptr) {
    ERR_clear_error();
    return std::nullopt;
  }
  ossl::BasicConstraintsPtr owner(bc);
  BasicConstraints out;
  out.ca = bc->ca != 0;
  out.critical = crit == 1;
  if (bc->pathlen != nullptr) out.pathlen = static_cast<int>(ASN1_INTEGER_get(bc->pathlen));
  return out;
}

bool Certificate::is_ca() const {
  auto bc = basic_constraints();
  return bc && bc->ca;
}

std::optional<std::string> Certificate::subject_key_id_hex() const {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(Access::x509(*this));
  if (ski == nullptr) return std::nullopt;
  return ossl::colon_hex(ASN1_STRING_get0_data(ski), static_cast<std::size_t>(ASN1_STRING_length(ski)));
}

std::optional<std::string> Certificate::authority_key_id_hex() const {
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(Access::x509(*this));
  if (aki == nullptr) return std::nullopt;
  return ossl::colon_hex(ASN1_STRING_get0_data(aki), static_cast<std::size_t>(ASN1_STRING_length(aki)));
}

bool Certificate::authority_key_id_names_serial() const {
  return X509_get0_authority_serial(Access::x509(*this)) != nullptr;
}

std::string Certificate::fingerprint_sha256() const { return sha256_fingerprint(to_der()); }

bool Certificate::is_self_signed() const {
  int r = X509_self_signed(Access::x509(*this), 1);
  ERR_clear_error();
  return r == 1;
}

std::vector<std::string> Certificate::extension_names() const {
  X509* x = Access::x509(*this);
  std::vector<std::string> out;
  for (int i = 0; i < X509_get_ext_count(x); ++i) {
    out.push_back(ossl::object_name(X509_EXTENSION_get_object(X509_get_ext(x, i))));
  }
  return out;
}

CertificateInfo Certificate::describe(TimePoint now) const {
  CertificateInfo info;
  info.subject = subject().to_string();
  info.issuer = issuer().to_string();
  info.serial = serial_hex();
  info.not_before = not_before();
  info.not_after = not_after();
  info.not_before_text = format_time(info.not_before);
  info.not_after_text = format_time(info.not_after);
  info.days_left = days_between(now, info.not_after);
  info.expired = now > info.not_after;
  info.not_yet_valid = now < info.not_before;
  info.status = info.expired ? "expired" : info.not_yet_valid ? "not yet valid" : "valid";
  info.key_type = key_type_name();
  info.signature_algorithm = signature_algorithm();
  for (const auto& san : sans()) info.sans.push_back(san.to_string());
  info.key_usage = key_usage();
  info.extended_key_usage = extended_key_usage();
  info.basic_constraints = basic_constraints();
  info.is_ca = info.basic_constraints && info.basic_constraints->ca;
  info.self_signed = is_self_signed();
  info.subject_key_id = subject_key_id_hex().value_or("");
  info.authority_key_id = authority_key_id_hex().value_or("");
  info.fingerprint_sha256 = fingerprint_sha256();
  return info;
}

bool operator==(const Certificate& a, const Certificate& b) {
  return a.impl_ == b.impl_ || a.to_der() == b.to_der();
}

}  // namespace mqttpki::pki
