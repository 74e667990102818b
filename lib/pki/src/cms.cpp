// CMS SignedData for renewal requests: OpenSSL's CMS API does the encoding, the digests and the signature;
// this file only chooses the attributes and reads them back.

#include <mqttpki/pki/cms.hpp>

#include "ossl.hpp"

#include <mqttpki/pki/error.hpp>

#include <openssl/cms.h>
#include <openssl/objects.h>

#include <fmt/format.h>

#include <algorithm>

namespace mqttpki::pki {
namespace {

// SCEP's transactionID (RFC 8894): a signed attribute every CMS reader can show.
constexpr const char* transaction_id_oid = "2.16.840.1.113733.1.9.7";

ossl::Asn1ObjectPtr transaction_id_object() {
  return ossl::Asn1ObjectPtr(ossl::check_ptr(OBJ_txt2obj(transaction_id_oid, 1), "OBJ_txt2obj"));
}

void check_transaction_id(std::string_view id) {
  const bool printable = std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view(" '()+,-./:=?").find(c) != std::string_view::npos;
  });
  if (id.empty() || id.size() > 64 || !printable)
    throw Error(Errc::invalid_argument, "a request id is 1-64 PrintableString characters");
}

void add_signed_attributes(CMS_SignerInfo* si, std::string_view transaction_id, TimePoint signing_time) {
  auto when = ossl::make_asn1_time(signing_time);
  ossl::check(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, ASN1_STRING_type(when.get()), when.get(), -1) == 1,
              "CMS_signed_add1_attr_by_NID(signingTime)");
  auto object = transaction_id_object();
  ossl::check(CMS_signed_add1_attr_by_OBJ(si, object.get(), V_ASN1_PRINTABLESTRING, transaction_id.data(),
                                          static_cast<int>(transaction_id.size())) == 1,
              "CMS_signed_add1_attr_by_OBJ(transactionID)");
}

// The one value of a signed attribute, or nullptr when it is absent; Errc::bad_format when it is there twice
// or has several values (a signer could otherwise show a reader one value and mean another).
ASN1_TYPE* single_attribute(CMS_SignerInfo* si, const ASN1_OBJECT* object, const char* what) {
  const int at = CMS_signed_get_attr_by_OBJ(si, object, -1);
  if (at < 0) return nullptr;
  X509_ATTRIBUTE* attribute = CMS_signed_get_attr(si, at);
  if (CMS_signed_get_attr_by_OBJ(si, object, at) >= 0 || X509_ATTRIBUTE_count(attribute) != 1)
    throw Error(Errc::bad_format, fmt::format("the {} attribute is repeated", what));
  return X509_ATTRIBUTE_get0_type(attribute, 0);
}

TimePoint read_signing_time(CMS_SignerInfo* si) {
  ASN1_TYPE* value = single_attribute(si, OBJ_nid2obj(NID_pkcs9_signingTime), "signingTime");
  if (value == nullptr) throw Error(Errc::bad_format, "no signingTime attribute");
  if (value->type != V_ASN1_UTCTIME && value->type != V_ASN1_GENERALIZEDTIME)
    throw Error(Errc::bad_format, "the signingTime attribute is not a time");
  return ossl::from_asn1_time(value->value.asn1_string);
}

std::string read_transaction_id(CMS_SignerInfo* si) {
  auto object = transaction_id_object();
  ASN1_TYPE* value = single_attribute(si, object.get(), "transactionID");
  if (value == nullptr) throw Error(Errc::bad_format, "no transactionID attribute");
  if (value->type != V_ASN1_PRINTABLESTRING) throw Error(Errc::bad_format, "the transactionID is not a PrintableString");
  const ASN1_STRING* text = value->value.printablestring;
  std::string id(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                 static_cast<std::size_t>(ASN1_STRING_length(text)));
  try {
    check_transaction_id(id);
  } catch (const Error&) {
    throw Error(Errc::bad_format, "the transactionID is not 1-64 printable characters");
  }
  return id;
}

ossl::CmsPtr parse_signed_data(ByteView der) {
  const unsigned char* p = der.data();
  ossl::CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  ossl::drain_errors();
  if (!cms || p != der.data() + der.size()) throw Error(Errc::bad_format, "not a CMS message (DER)");
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) throw Error(Errc::bad_format, "not a CMS SignedData");
  ASN1_OCTET_STRING** content = CMS_get0_content(cms.get());
  if (content == nullptr || *content == nullptr) throw Error(Errc::bad_format, "no content (detached signature)");
  const int signers = sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms.get()));
  if (signers != 1) throw Error(Errc::bad_format, fmt::format("{} signers (expected 1)", signers));
  ossl::X509StackPtr certs(CMS_get1_certs(cms.get()));
  if (!certs || sk_X509_num(certs.get()) == 0) throw Error(Errc::bad_format, "no signer certificate included");
  return cms;
}

}  // namespace

Bytes cms_sign(ByteView content, const Certificate& signer, const PrivateKey& key, std::string_view transaction_id,
               TimePoint signing_time) {
  check_transaction_id(transaction_id);
  if (!key.matches(signer)) throw Error(Errc::mismatch, "the key does not belong to the signing certificate");
  constexpr unsigned flags = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP;
  ossl::CmsPtr cms(ossl::check_ptr(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags), "CMS_sign"));
  // The digest as for issuing; Ed25519 signs the attributes itself, over a SHA-512 message digest (RFC 8419).
  EVP_PKEY* pkey = detail::Access::pkey(key);
#if OPENSSL_VERSION_NUMBER < 0x30200000L
  if (EVP_PKEY_get_id(pkey) == EVP_PKEY_ED25519 || EVP_PKEY_get_id(pkey) == EVP_PKEY_ED448)
    throw Error(Errc::policy, "OpenSSL before 3.2 cannot sign CMS with an Ed25519 key, which renewal over MQTT needs; "
                              "use a P-256 key (the default) for this device");
#endif
  const EVP_MD* md = ossl::digest_for(pkey) != nullptr ? ossl::digest_for(pkey) : EVP_sha512();
  CMS_SignerInfo* si = ossl::check_ptr(
      CMS_add1_signer(cms.get(), detail::Access::x509(signer), pkey, md, flags), "CMS_add1_signer");
  add_signed_attributes(si, transaction_id, signing_time);
  ossl::BioPtr data(ossl::check_ptr(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())), "BIO_new_mem_buf"));
  ossl::check(CMS_final(cms.get(), data.get(), nullptr, CMS_BINARY) == 1, "CMS_final");
  return ossl::i2d_bytes(i2d_CMS_ContentInfo, static_cast<const CMS_ContentInfo*>(cms.get()), "i2d_CMS_ContentInfo");
}

SignedContent cms_verify(ByteView der) {
  ossl::CmsPtr cms = parse_signed_data(der);
  ossl::BioPtr out = ossl::new_mem_bio();
  if (CMS_verify(cms.get(), nullptr, nullptr, nullptr, out.get(), CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
    ossl::drain_errors();
    throw Error(Errc::verify_failed, "the signature does not verify");
  }
  STACK_OF(X509)* signers = CMS_get0_signers(cms.get());
  if (signers == nullptr || sk_X509_num(signers) != 1) throw Error(Errc::bad_format, "no signer certificate included");
  X509* signer = sk_X509_value(signers, 0);
  X509_up_ref(signer);
  sk_X509_free(signers);
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
  SignedContent result{.content = {},
                       .signer = detail::Access::make_certificate(ossl::X509Ptr(signer)),
                       .signing_time = read_signing_time(si),
                       .transaction_id = read_transaction_id(si)};
  const std::string bytes = ossl::bio_to_string(out.get());
  result.content.assign(bytes.begin(), bytes.end());
  return result;
}

}  // namespace mqttpki::pki
