#include "ossl.hpp"

#include "pem.hpp"

#include <mqttpki/pki/util.hpp>

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace mqttpki::pki::ossl {

std::string drain_errors() {
  std::string text;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(code, buf.data(), buf.size());
    // "error:0480006C:PEM routines::no start line" -> keep the readable tail after the last "::" or ':'
    std::string_view line(buf.data());
    if (auto pos = line.rfind("::"); pos != std::string_view::npos) {
      line.remove_prefix(pos + 2);
    }
    if (!text.empty()) text += "; ";
    text.append(line);
  }
  return text;
}

Error openssl_error(const char* what, Errc code) {
  std::string detail = drain_errors();
  if (detail.empty()) return Error(code, std::string(what) + " failed");
  return Error(code, std::string(what) + ": " + detail);
}

BioPtr new_mem_bio() { return BioPtr(check_ptr(BIO_new(BIO_s_mem()), "BIO_new")); }

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(len));
}

std::time_t to_time_t(TimePoint t) {
  return static_cast<std::time_t>(
      std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count());
}

TimePoint from_asn1_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    throw Error(Errc::bad_format, "invalid time in certificate");
  }
  std::time_t secs = timegm(&tm);
  return TimePoint(std::chrono::seconds(secs));
}

Asn1TimePtr make_asn1_time(TimePoint t) {
  return Asn1TimePtr(check_ptr(ASN1_TIME_set(nullptr, to_time_t(t)), "ASN1_TIME_set"));
}

std::string colon_hex(const unsigned char* data, std::size_t len) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(len * 3);
  for (std::size_t i = 0; i < len; ++i) {
    if (i != 0) out += ':';
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0x0f];
  }
  return out;
}

Asn1IntegerPtr serial_from_hex(const std::string& normalized_hex) {
  BIGNUM* raw = nullptr;
  check(BN_hex2bn(&raw, normalized_hex.c_str()) != 0, "BN_hex2bn");
  BignumPtr bn(raw);
  return Asn1IntegerPtr(check_ptr(BN_to_ASN1_INTEGER(bn.get(), nullptr), "BN_to_ASN1_INTEGER"));
}

std::string serial_to_hex(const ASN1_INTEGER* serial) {
  BignumPtr bn(check_ptr(ASN1_INTEGER_to_BN(serial, nullptr), "ASN1_INTEGER_to_BN"));
  char* hex = check_ptr(BN_bn2hex(bn.get()), "BN_bn2hex");
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

std::string choose_serial(const std::optional<std::string>& given, const RandomSource& random) {
  if (given) return normalize_serial_hex(*given);
  return random_serial(random);
}

Asn1IntegerPtr choose_serial_integer(const std::optional<std::string>& given, const RandomSource& random) {
  if (given) return serial_from_hex(normalize_serial_hex(*given));
  const std::array<std::uint8_t, 20> bytes = random_serial_bytes(random);
  Asn1IntegerPtr out(check_ptr(ASN1_INTEGER_new(), "ASN1_INTEGER_new"));
  check(ASN1_STRING_set(out.get(), bytes.data(), static_cast<int>(bytes.size())) == 1, "ASN1_STRING_set");
  return out;
}

const EVP_MD* digest_for(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) return nullptr;
  if (EVP_PKEY_is_a(key, "EC")) {
    int bits = EVP_PKEY_get_bits(key);
    if (bits > 384) return EVP_sha512();
    if (bits > 256) return EVP_sha384();
  }
  return EVP_sha256();
}

std::string object_name(const ASN1_OBJECT* obj) {
  int nid = OBJ_obj2nid(obj);
  if (nid != NID_undef) {
    if (const char* sn = OBJ_nid2sn(nid)) return sn;
  }
  std::array<char, 128> buf{};
  int n = OBJ_obj2txt(buf.data(), static_cast<int>(buf.size()), obj, 1);
  if (n <= 0) return "unknown";
  return std::string(buf.data());
}

namespace {

GeneralNamePtr ia5_name(int type, const std::string& value) {
  GeneralNamePtr gn(check_ptr(GENERAL_NAME_new(), "GENERAL_NAME_new"));
  ASN1_IA5STRING* s = check_ptr(ASN1_IA5STRING_new(), "ASN1_IA5STRING_new");
  if (ASN1_STRING_set(s, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(s);
    throw openssl_error("ASN1_STRING_set");
  }
  GENERAL_NAME_set0_value(gn.get(), type, s);
  return gn;
}

std::string asn1_string_text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

}  // namespace

GeneralNamePtr to_general_name(const GeneralName& name) {
  switch (name.type) {
    case GeneralName::Type::dns:
      return ia5_name(GEN_DNS, name.value);
    case GeneralName::Type::uri:
      return ia5_name(GEN_URI, name.value);
    case GeneralName::Type::email:
      return ia5_name(GEN_EMAIL, name.value);
    case GeneralName::Type::ip: {
      std::array<unsigned char, 16> buf{};
      int len = 0;
      if (inet_pton(AF_INET, name.value.c_str(), buf.data()) == 1) {
        len = 4;
      } else if (inet_pton(AF_INET6, name.value.c_str(), buf.data()) == 1) {
        len = 16;
      } else {
        throw Error(Errc::invalid_argument, "invalid IP address in SAN: " + name.value);
      }
      GeneralNamePtr gn(check_ptr(GENERAL_NAME_new(), "GENERAL_NAME_new"));
      ASN1_OCTET_STRING* s = check_ptr(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new");
      if (ASN1_OCTET_STRING_set(s, buf.data(), len) != 1) {
        ASN1_OCTET_STRING_free(s);
        throw openssl_error("ASN1_OCTET_STRING_set");
      }
      GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, s);
      return gn;
    }
    case GeneralName::Type::other:
      break;
  }
  throw Error(Errc::policy, "unsupported SAN type: " + name.value);
}

GeneralName from_general_name(const GENERAL_NAME* gn) {
  int type = 0;
  auto* value = GENERAL_NAME_get0_value(gn, &type);
  switch (type) {
    case GEN_DNS:
      return {GeneralName::Type::dns, asn1_string_text(static_cast<const ASN1_STRING*>(value))};
    case GEN_URI:
      return {GeneralName::Type::uri, asn1_string_text(static_cast<const ASN1_STRING*>(value))};
    case GEN_EMAIL:
      return {GeneralName::Type::email, asn1_string_text(static_cast<const ASN1_STRING*>(value))};
    case GEN_IPADD: {
      const auto* s = static_cast<const ASN1_OCTET_STRING*>(value);
      int len = ASN1_STRING_length(s);
      std::array<char, INET6_ADDRSTRLEN> text{};
      if (len == 4 || len == 16) {
        if (inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), text.data(),
                      static_cast<socklen_t>(text.size())) != nullptr) {
          return {GeneralName::Type::ip, text.data()};
        }
      }
      return {GeneralName::Type::other,
              "IP:<invalid " + std::to_string(len) + "-byte address>"};
    }
    case GEN_DIRNAME: {
      Name n = detail::Access::make_name(static_cast<const X509_NAME*>(value));
      return {GeneralName::Type::other, "DirName:" + n.to_string()};
    }
    case GEN_OTHERNAME:
      return {GeneralName::Type::other, "othername:<unsupported>"};
    case GEN_RID:
      return {GeneralName::Type::other,
              "Registered ID:" + object_name(static_cast<const ASN1_OBJECT*>(value))};
    default:
      return {GeneralName::Type::other, "<unsupported name type " + std::to_string(type) + ">"};
  }
}

GeneralNamesPtr to_general_names(const std::vector<GeneralName>& names) {
  GeneralNamesPtr out(check_ptr(sk_GENERAL_NAME_new_null(), "sk_GENERAL_NAME_new_null"));
  for (const auto& n : names) {
    GeneralNamePtr gn = to_general_name(n);
    check(sk_GENERAL_NAME_push(out.get(), gn.get()) > 0, "sk_GENERAL_NAME_push");
    gn.release();  // owned by the stack now
  }
  return out;
}

std::vector<GeneralName> from_general_names(const GENERAL_NAMES* names) {
  std::vector<GeneralName> out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    out.push_back(from_general_name(sk_GENERAL_NAME_value(names, i)));
  }
  return out;
}

namespace {

// A parameters-only provider key for a named curve, made once per process (read-only afterwards, so
// threads may share it).
EvpPkeyPtr make_ec_params(const char* group) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* params = nullptr;
  std::array<OSSL_PARAM, 2> p{
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
      OSSL_PARAM_construct_end()};
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &params, EVP_PKEY_KEY_PARAMETERS, p.data()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return EvpPkeyPtr(params);
}

// ECParameters (the curve's OID) decoded by d2i_KeyParams: an ASN.1-method parameters-only key, made
// once per process and only read afterwards.
EvpPkeyPtr make_ec_encoding_params(int curve_nid) {
  const Bytes der = i2d_bytes(i2d_ASN1_OBJECT, OBJ_nid2obj(curve_nid), "i2d_ASN1_OBJECT");
  const unsigned char* p = der.data();
  EVP_PKEY* params = d2i_KeyParams(EVP_PKEY_EC, nullptr, &p, static_cast<long>(der.size()));
  if (params == nullptr) ERR_clear_error();
  return EvpPkeyPtr(params);
}

int ec_curve_nid(EVP_PKEY* key) {
  std::array<char, 80> group{};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(), &len) != 1) {
    ERR_clear_error();
    return NID_undef;
  }
  return OBJ_txt2nid(group.data());
}

}  // namespace

EvpPkeyPtr ec_encoding_key(int curve_nid, const unsigned char* point, std::size_t len) {
  static const EvpPkeyPtr p256 = make_ec_encoding_params(NID_X9_62_prime256v1);
  static const EvpPkeyPtr p384 = make_ec_encoding_params(NID_secp384r1);
  const EvpPkeyPtr* params = curve_nid == NID_X9_62_prime256v1 ? &p256 : curve_nid == NID_secp384r1 ? &p384 : nullptr;
  if (params == nullptr || !*params) return nullptr;
  EvpPkeyPtr out(EVP_PKEY_new());
  bool ok = out && EVP_PKEY_copy_parameters(out.get(), params->get()) == 1;
  if (ok) {
    const unsigned char* p = point;
    EVP_PKEY* target = out.get();
    ok = d2i_PublicKey(EVP_PKEY_EC, &target, &p, static_cast<long>(len)) == target;
  }
  if (!ok) {
    ERR_clear_error();
    return nullptr;
  }
  return out;
}

EvpPkeyPtr ec_key_for_encoding(EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) return nullptr;
  std::array<unsigned char, 1 + 2 * 48> point{};  // an uncompressed P-384 point at most
  std::size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(), point.size(), &len) !=
      1) {
    ERR_clear_error();
    return nullptr;
  }
  return ec_encoding_key(ec_curve_nid(key), point.data(), len);
}

EvpPkeyPtr ec_public_key(int curve_nid, const unsigned char* point, std::size_t len) {
  static const EvpPkeyPtr p256 = make_ec_params("prime256v1");
  static const EvpPkeyPtr p384 = make_ec_params("secp384r1");
  const EvpPkeyPtr* params = curve_nid == NID_X9_62_prime256v1 ? &p256 : curve_nid == NID_secp384r1 ? &p384 : nullptr;
  if (params == nullptr || !*params) return nullptr;
  EvpPkeyPtr key(EVP_PKEY_dup(params->get()));
  if (!key || EVP_PKEY_set1_encoded_public_key(key.get(), point, len) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return key;
}

Asn1OctetStringPtr key_id_for(X509_PUBKEY* pubkey) {
  const unsigned char* pk = nullptr;
  int pklen = 0;
  check(X509_PUBKEY_get0_param(nullptr, &pk, &pklen, nullptr, pubkey) == 1, "X509_PUBKEY_get0_param");
  // SHA-1 fetched once per process (EVP_sha1() would be fetched again on every EVP_Digest).
  static const Ptr<EVP_MD, EVP_MD_free> sha1(EVP_MD_fetch(nullptr, "SHA1", nullptr));
  check(sha1 != nullptr, "EVP_MD_fetch SHA1");
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int mdlen = 0;
  check(EVP_Digest(pk, static_cast<std::size_t>(pklen), md.data(), &mdlen, sha1.get(), nullptr) == 1,
        "EVP_Digest");
  Asn1OctetStringPtr out(check_ptr(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new"));
  check(ASN1_OCTET_STRING_set(out.get(), md.data(), static_cast<int>(mdlen)) == 1, "ASN1_OCTET_STRING_set");
  return out;
}

}  // namespace mqttpki::pki::ossl

namespace mqttpki::pki {

EVP_PKEY* detail::Access::pkey(const PublicKey& key) {
  if (!key.impl_) throw Error(Errc::invalid_argument, "no public key given");
  return key.impl_->pkey.get();
}

EVP_PKEY* detail::Access::pkey(const PrivateKey& key) { return key.impl_->pkey.get(); }

PublicKey detail::Access::make_public(ossl::EvpPkeyPtr pkey, ossl::EvpPkeyPtr encoding_key,
                                      std::optional<KeyType> known_type) {
  PublicKey key;
  key.impl_ = std::make_shared<const PublicKey::Impl>(
      PublicKey::Impl{std::move(pkey), std::move(encoding_key), known_type});
  return key;
}

std::optional<KeyType> detail::Access::known_type(const PublicKey& key) {
  return key.impl_ ? key.impl_->known_type : std::nullopt;
}

EVP_PKEY* detail::Access::encoding_key(const PublicKey& key) {
  return key.impl_ ? key.impl_->encoding_key.get() : nullptr;
}

PublicKey detail::Access::make_public_ref(EVP_PKEY* pkey) {
  ossl::check(EVP_PKEY_up_ref(pkey) == 1, "EVP_PKEY_up_ref");
  return make_public(ossl::EvpPkeyPtr(pkey));
}

PrivateKey detail::Access::make_private(ossl::EvpPkeyPtr pkey) {
  return PrivateKey(std::make_shared<const PrivateKey::Impl>(PrivateKey::Impl{std::move(pkey)}));
}

Certificate detail::Access::make_certificate(ossl::X509Ptr x509) {
  return Certificate(std::make_shared<const Certificate::Impl>(Certificate::Impl{std::move(x509)}));
}

Csr detail::Access::make_csr(std::shared_ptr<const Csr::Impl> impl) { return Csr(std::move(impl)); }

Name detail::Access::make_name(const X509_NAME* name) {
  unsigned char* der = nullptr;
  int len = i2d_X509_NAME(name, &der);
  if (len < 0) throw ossl::openssl_error("i2d_X509_NAME");
  Bytes bytes(der, der + len);
  OPENSSL_free(der);
  return Name(std::move(bytes));
}

Name detail::Access::make_name(std::shared_ptr<const X509_NAME> name) {
  Name out = make_name(name.get());
  out.decoded_ = std::move(name);
  return out;
}

const X509_NAME* detail::Access::x509_name_view(const Name& name, ossl::X509NamePtr& holder) {
  if (name.decoded_) return name.decoded_.get();
  holder = x509_name(name);
  return holder.get();
}

ossl::X509NamePtr detail::Access::x509_name(const Name& name) {
  const unsigned char* p = name.der_.data();
  X509_NAME* out = d2i_X509_NAME(nullptr, &p, static_cast<long>(name.der_.size()));
  if (out == nullptr) throw ossl::openssl_error("d2i_X509_NAME", Errc::bad_format);
  return ossl::X509NamePtr(out);
}

}  // namespace mqttpki::pki
