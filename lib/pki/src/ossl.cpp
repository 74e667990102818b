#include "ossl.hpp"

#include "pem.hpp"

#include <mqttpki/pki/util.hpp>

#include <arpa/inet.h>
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
  OpensslStringPtr hex(check_ptr(BN_bn2hex(bn.get()), "BN_bn2hex"));
  return std::string(hex.get());
}

std::string choose_serial(const std::optional<std::string>& given, const RandomSource& random) {
  if (given) return normalize_serial(*given);
  return random_serial(random);
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

X509ExtensionPtr make_extension(X509V3_CTX& ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) throw openssl_error("making a certificate extension");
  return X509ExtensionPtr(ext);
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
  Asn1StringPtr s(check_ptr(ASN1_IA5STRING_new(), "ASN1_IA5STRING_new"));
  check(ASN1_STRING_set(s.get(), value.data(), static_cast<int>(value.size())) == 1, "ASN1_STRING_set");
  GENERAL_NAME_set0_value(gn.get(), type, s.release());
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
      Asn1OctetStringPtr s(check_ptr(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new"));
      check(ASN1_OCTET_STRING_set(s.get(), buf.data(), len) == 1, "ASN1_OCTET_STRING_set");
      GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, s.release());
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

}  // namespace mqttpki::pki::ossl

namespace mqttpki::pki {

EVP_PKEY* detail::Access::pkey(const PublicKey& key) {
  if (!key.impl_) throw Error(Errc::invalid_argument, "no public key given");
  return key.impl_->pkey.get();
}

EVP_PKEY* detail::Access::pkey(const PrivateKey& key) { return key.impl_->pkey.get(); }

PublicKey detail::Access::make_public(ossl::EvpPkeyPtr pkey) {
  PublicKey key;
  key.impl_ = std::make_shared<const PublicKey::Impl>(PublicKey::Impl{std::move(pkey)});
  return key;
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
  return Name(ossl::i2d_bytes(i2d_X509_NAME, name, "i2d_X509_NAME"));
}

ossl::X509NamePtr detail::Access::x509_name(const Name& name) {
  const unsigned char* p = name.der_.data();
  X509_NAME* out = d2i_X509_NAME(nullptr, &p, static_cast<long>(name.der_.size()));
  if (out == nullptr) throw ossl::openssl_error("d2i_X509_NAME", Errc::bad_format);
  return ossl::X509NamePtr(out);
}

}  // namespace mqttpki::pki
