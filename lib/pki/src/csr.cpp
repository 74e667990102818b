#include <mqttpki/pki/csr.hpp>

#include "ossl.hpp"
#include "pem.hpp"

#include <openssl/pem.h>

#include <algorithm>
#include <array>

namespace mqttpki::pki {

using detail::Access;

namespace {

// One DER element (tag, length, contents) inside [p, end).
struct Tlv {
  const unsigned char* begin = nullptr;    // first byte of the tag
  const unsigned char* content = nullptr;  // first byte of the contents
  const unsigned char* end = nullptr;      // one past the last byte of the contents
  int tag = 0;
  int cls = 0;
  bool constructed = false;
};

// Reads the next element with ASN1_get_object; definite lengths only (DER). Advances p past it.
bool next_tlv(const unsigned char*& p, const unsigned char* end, Tlv& out) {
  if (p >= end) return false;
  const unsigned char* q = p;
  long len = 0;
  int tag = 0;
  int cls = 0;
  const int flags = ASN1_get_object(&q, &len, &tag, &cls, end - p);
  if ((flags & 0x80) != 0 || (flags & 0x01) != 0 || len < 0 || len > end - q) {
    ERR_clear_error();
    return false;
  }
  out = Tlv{p, q, q + len, tag, cls, (flags & V_ASN1_CONSTRUCTED) != 0};
  p = out.end;
  return true;
}

bool next_tlv(const unsigned char*& p, const unsigned char* end, Tlv& out, int tag, bool constructed,
              int cls = V_ASN1_UNIVERSAL) {
  return next_tlv(p, end, out) && out.tag == tag && out.cls == cls && out.constructed == constructed;
}

// d2i over exactly one element: the whole element must be consumed.
template <class T>
T* d2i_exact(T* (*d2i)(T**, const unsigned char**, long), void (*free_fn)(T*), const Tlv& tlv) {
  const unsigned char* p = tlv.begin;
  T* out = d2i(nullptr, &p, tlv.end - tlv.begin);
  if (out != nullptr && p == tlv.end) return out;
  free_fn(out);
  ERR_clear_error();
  return nullptr;
}

Bytes algor_der(int nid, int ptype, int param_nid) {
  ossl::X509AlgorPtr alg(ossl::check_ptr(X509_ALGOR_new(), "X509_ALGOR_new"));
  ossl::check(X509_ALGOR_set0(alg.get(), OBJ_nid2obj(nid), ptype,
                              param_nid == NID_undef ? nullptr : OBJ_nid2obj(param_nid)) == 1,
              "X509_ALGOR_set0");
  return ossl::i2d_bytes(i2d_X509_ALGOR, alg.get(), "i2d_X509_ALGOR");
}

// The AlgorithmIdentifiers nearly every request carries, as OpenSSL encodes them, made once per process
// (read-only afterwards, so threads may share them). A request whose bytes are exactly one of these skips
// decoding them (d2i_X509_ALGOR looks the OIDs up under a global lock, about 2 us each); anything else
// is decoded as before.
struct KnownAlgorithms {
  Bytes p256_key;  // id-ecPublicKey with namedCurve prime256v1
  Bytes p384_key;  // id-ecPublicKey with namedCurve secp384r1
  struct Signature {
    Bytes der;                                // ecdsa-with-SHA256/384/512, parameters absent
    std::shared_ptr<const X509_ALGOR> algor;  // the same, decoded
  };
  std::array<Signature, 3> ecdsa;

  KnownAlgorithms() {
    p256_key = algor_der(NID_X9_62_id_ecPublicKey, V_ASN1_OBJECT, NID_X9_62_prime256v1);
    p384_key = algor_der(NID_X9_62_id_ecPublicKey, V_ASN1_OBJECT, NID_secp384r1);
    const int nids[] = {NID_ecdsa_with_SHA256, NID_ecdsa_with_SHA384, NID_ecdsa_with_SHA512};
    for (std::size_t i = 0; i < ecdsa.size(); ++i) {
      ecdsa[i].der = algor_der(nids[i], V_ASN1_UNDEF, NID_undef);
      const unsigned char* p = ecdsa[i].der.data();
      ecdsa[i].algor = std::shared_ptr<const X509_ALGOR>(
          ossl::check_ptr(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(ecdsa[i].der.size())), "d2i_X509_ALGOR"),
          X509_ALGOR_free);
    }
  }
};

const KnownAlgorithms& known_algorithms() {
  static const KnownAlgorithms known;
  return known;
}

bool same_bytes(const Tlv& tlv, const Bytes& der) {
  return static_cast<std::size_t>(tlv.end - tlv.begin) == der.size() && std::equal(der.begin(), der.end(), tlv.begin);
}

// The SubjectPublicKeyInfo as an EVP_PKEY. EC P-256 / P-384 (what mqttpki issues for) are built from the
// point directly: d2i_PUBKEY goes through OpenSSL 3.0's provider decoders, which cost more than
// verifying the signature; they also get their twin for X509_set_pubkey (ec_encoding_key) while the point
// is at hand. Other key types take the general path. Empty when OpenSSL cannot use the key (as
// X509_REQ_get0_pubkey would be null).
PublicKey public_key_of(const Tlv& spki) {
  const unsigned char* p = spki.content;
  Tlv alg_tlv;
  Tlv key_tlv;
  if (!next_tlv(p, spki.end, alg_tlv, V_ASN1_SEQUENCE, true) || !next_tlv(p, spki.end, key_tlv, V_ASN1_BIT_STRING, false) ||
      p != spki.end) {
    return {};
  }
  // P-256 / P-384 with the AlgorithmIdentifier exactly as OpenSSL encodes it and a BIT STRING without
  // unused bits: the point is the BIT STRING's contents after its first octet, as d2i_ASN1_BIT_STRING
  // would give it. Anything else takes the decoding path below.
  const KnownAlgorithms& known = known_algorithms();
  const int known_curve = same_bytes(alg_tlv, known.p256_key)   ? NID_X9_62_prime256v1
                          : same_bytes(alg_tlv, known.p384_key) ? NID_secp384r1
                                                                : NID_undef;
  if (known_curve != NID_undef && key_tlv.end - key_tlv.content >= 2 && key_tlv.content[0] == 0) {
    const unsigned char* point = key_tlv.content + 1;
    const auto len = static_cast<std::size_t>(key_tlv.end - point);
    ossl::EvpPkeyPtr key = ossl::ec_public_key(known_curve, point, len);
    if (!key) return {};
    return Access::make_public(std::move(key), ossl::ec_encoding_key(known_curve, point, len),
                               known_curve == NID_X9_62_prime256v1 ? KeyType::p256 : KeyType::p384);
  }
  ossl::X509AlgorPtr alg(d2i_exact(d2i_X509_ALGOR, X509_ALGOR_free, alg_tlv));
  ossl::Asn1BitStringPtr bits(d2i_exact(d2i_ASN1_BIT_STRING, ASN1_BIT_STRING_free, key_tlv));
  if (!alg || !bits) return {};
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&oid, &ptype, &pval, alg.get());
  if (OBJ_obj2nid(oid) == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT) {
    const int curve = OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(pval));
    if (curve == NID_X9_62_prime256v1 || curve == NID_secp384r1) {
      const unsigned char* point = ASN1_STRING_get0_data(bits.get());
      const auto len = static_cast<std::size_t>(ASN1_STRING_length(bits.get()));
      ossl::EvpPkeyPtr key = ossl::ec_public_key(curve, point, len);
      if (!key) return {};
      return Access::make_public(std::move(key), ossl::ec_encoding_key(curve, point, len),
                                 curve == NID_X9_62_prime256v1 ? KeyType::p256 : KeyType::p384);
    }
  }
  const unsigned char* q = spki.begin;
  EVP_PKEY* key = d2i_PUBKEY(nullptr, &q, spki.end - spki.begin);
  if (key == nullptr || q != spki.end) {
    EVP_PKEY_free(key);
    ERR_clear_error();
    return {};
  }
  return Access::make_public(ossl::EvpPkeyPtr(key));
}

// The extensionRequest attribute (or Microsoft's older OID), as X509_REQ_get_extensions finds it.
ossl::ExtensionStackPtr extensions_of(const std::vector<ossl::Ptr<X509_ATTRIBUTE, X509_ATTRIBUTE_free>>& attributes) {
  for (int nid : {NID_ext_req, NID_ms_ext_req}) {
    for (const auto& attr : attributes) {
      if (OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attr.get())) != nid) continue;
      const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(attr.get(), 0);
      if (value == nullptr || value->type != V_ASN1_SEQUENCE) return nullptr;
      const unsigned char* p = value->value.sequence->data;
      STACK_OF(X509_EXTENSION)* exts = d2i_X509_EXTENSIONS(nullptr, &p, value->value.sequence->length);
      ERR_clear_error();
      return ossl::ExtensionStackPtr(exts);
    }
  }
  return nullptr;
}

// PKCS#10 (RFC 2986), read element by element rather than with d2i_X509_REQ: that one decodes the public
// key through OpenSSL 3.0's provider decoders (OSSL_DECODER_CTX_new_for_pkey), about 0.15 ms per request,
// more than verifying its signature, and there is no way to skip it. The pieces are still decoded by
// OpenSSL's own d2i functions; only the outer SEQUENCEs are walked here.
//   CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }
//   CertificationRequestInfo ::= SEQUENCE { version INTEGER, subject Name, subjectPKInfo,
//                                           attributes [0] IMPLICIT SET OF Attribute }
// (attributes may be absent, as OpenSSL accepts.) Null if the DER is not such a request.
std::shared_ptr<Access::CsrImpl> parse_der(Bytes der) {
  auto impl = std::make_shared<Access::CsrImpl>();
  impl->der = std::move(der);
  const unsigned char* const begin = impl->der.data();
  const unsigned char* const end = begin + impl->der.size();
  const unsigned char* p = begin;
  Tlv outer;
  if (!next_tlv(p, end, outer, V_ASN1_SEQUENCE, true) || p != end) return nullptr;
  p = outer.content;
  Tlv info;
  Tlv sig_alg;
  Tlv sig;
  if (!next_tlv(p, outer.end, info, V_ASN1_SEQUENCE, true) || !next_tlv(p, outer.end, sig_alg, V_ASN1_SEQUENCE, true) ||
      !next_tlv(p, outer.end, sig, V_ASN1_BIT_STRING, false) || p != outer.end) {
    return nullptr;
  }
  p = info.content;
  Tlv version;
  Tlv subject;
  Tlv spki;
  if (!next_tlv(p, info.end, version, V_ASN1_INTEGER, false) || !next_tlv(p, info.end, subject, V_ASN1_SEQUENCE, true) ||
      !next_tlv(p, info.end, spki, V_ASN1_SEQUENCE, true)) {
    return nullptr;
  }
  std::vector<ossl::Ptr<X509_ATTRIBUTE, X509_ATTRIBUTE_free>> attributes;
  if (p != info.end) {
    Tlv attrs;
    if (!next_tlv(p, info.end, attrs, 0, true, V_ASN1_CONTEXT_SPECIFIC) || p != info.end) return nullptr;
    for (const unsigned char* a = attrs.content; a != attrs.end;) {
      Tlv attr;
      if (!next_tlv(a, attrs.end, attr, V_ASN1_SEQUENCE, true)) return nullptr;
      attributes.emplace_back(d2i_exact(d2i_X509_ATTRIBUTE, X509_ATTRIBUTE_free, attr));
      if (!attributes.back()) return nullptr;
    }
  }
  // version: any INTEGER, as OpenSSL accepts; v1 (0), what every request carries, without decoding it.
  static const Bytes version_1 = {V_ASN1_INTEGER, 0x01, 0x00};
  const bool version_value = same_bytes(version, version_1) ||
                             ossl::Asn1IntegerPtr(d2i_exact(d2i_ASN1_INTEGER, ASN1_INTEGER_free, version)) != nullptr;
  impl->subject = std::shared_ptr<X509_NAME>(d2i_exact(d2i_X509_NAME, X509_NAME_free, subject), X509_NAME_free);
  for (const auto& known : known_algorithms().ecdsa) {
    if (same_bytes(sig_alg, known.der)) impl->signature_algorithm = known.algor;
  }
  if (!impl->signature_algorithm) {
    impl->signature_algorithm =
        std::shared_ptr<const X509_ALGOR>(d2i_exact(d2i_X509_ALGOR, X509_ALGOR_free, sig_alg), X509_ALGOR_free);
  }
  impl->signature.reset(d2i_exact(d2i_ASN1_BIT_STRING, ASN1_BIT_STRING_free, sig));
  if (!version_value || !impl->subject || !impl->signature_algorithm || !impl->signature) return nullptr;
  impl->public_key = public_key_of(spki);
  impl->extensions = extensions_of(attributes);
  impl->info_offset = static_cast<std::size_t>(info.begin - begin);
  impl->info_size = static_cast<std::size_t>(info.end - info.begin);
  return impl;
}

}  // namespace

Csr::Csr(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Csr Csr::create(const PrivateKey& key, const Name& subject, const std::vector<GeneralName>& sans) {
  EVP_PKEY* pkey = Access::pkey(key);
  ossl::X509ReqPtr req(ossl::check_ptr(X509_REQ_new(), "X509_REQ_new"));
  ossl::check(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) == 1, "X509_REQ_set_version");
  auto name = Access::x509_name(subject);
  ossl::check(X509_REQ_set_subject_name(req.get(), name.get()) == 1, "X509_REQ_set_subject_name");
  ossl::check(X509_REQ_set_pubkey(req.get(), pkey) == 1, "X509_REQ_set_pubkey");
  if (!sans.empty()) {
    auto names = ossl::to_general_names(sans);
    ossl::ExtensionStackPtr exts(ossl::check_ptr(sk_X509_EXTENSION_new_null(), "sk_X509_EXTENSION_new_null"));
    X509_EXTENSION* ext = ossl::check_ptr(X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get()), "X509V3_EXT_i2d");
    if (sk_X509_EXTENSION_push(exts.get(), ext) <= 0) {
      X509_EXTENSION_free(ext);
      throw ossl::openssl_error("sk_X509_EXTENSION_push");
    }
    ossl::check(X509_REQ_add_extensions(req.get(), exts.get()) == 1, "X509_REQ_add_extensions");
  }
  if (X509_REQ_sign(req.get(), pkey, ossl::digest_for(pkey)) <= 0) throw ossl::openssl_error("X509_REQ_sign");
  auto impl = parse_der(ossl::i2d_bytes(i2d_X509_REQ, req.get(), "i2d_X509_REQ"));
  if (!impl) throw Error(Errc::crypto, "the new certificate request does not parse");
  return Access::make_csr(std::move(impl));
}

Csr Csr::load(ByteView data) {
  constexpr std::string_view expected = "a certificate request (PEM 'BEGIN CERTIFICATE REQUEST' or DER)";
  Bytes der;
  bool from_pem = pem::looks_like_pem(data);
  if (from_pem) {
    auto blocks = pem::read_blocks(data);
    auto it = std::find_if(blocks.begin(), blocks.end(), [](const pem::Block& b) {
      return pem::kind_of_label(b.label, false) == ObjectKind::certificate_request;
    });
    if (it == blocks.end()) pem::throw_expected(expected, pem::describe_input(data));
    der = std::move(it->der);
  } else {
    der.assign(data.begin(), data.end());
  }
  auto impl = parse_der(std::move(der));
  if (!impl) {
    if (from_pem) throw Error(Errc::bad_format, "truncated or damaged PEM (the certificate request does not parse)");
    pem::throw_expected(expected, pem::describe_input(data));
  }
  return Access::make_csr(std::move(impl));
}

std::string Csr::to_pem() const { return pem::encode(PEM_STRING_X509_REQ, impl_->der); }

Bytes Csr::to_der() const { return impl_->der; }

namespace {

// The digest of an ECDSA-with-SHA-2 signature algorithm, fetched once per process (read-only afterwards,
// so threads may share it); null for any other algorithm, or when the AlgorithmIdentifier has parameters
// (RFC 5758 says they are absent), which ASN1_item_verify_ex then handles as OpenSSL always does.
const EVP_MD* ecdsa_digest(const X509_ALGOR* alg) {
  static const ossl::Ptr<EVP_MD, EVP_MD_free> sha256(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  static const ossl::Ptr<EVP_MD, EVP_MD_free> sha384(EVP_MD_fetch(nullptr, "SHA384", nullptr));
  static const ossl::Ptr<EVP_MD, EVP_MD_free> sha512(EVP_MD_fetch(nullptr, "SHA512", nullptr));
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  X509_ALGOR_get0(&oid, &ptype, nullptr, alg);
  if (ptype != V_ASN1_UNDEF) return nullptr;
  switch (OBJ_obj2nid(oid)) {
    case NID_ecdsa_with_SHA256:
      return sha256.get();
    case NID_ecdsa_with_SHA384:
      return sha384.get();
    case NID_ecdsa_with_SHA512:
      return sha512.get();
    default:
      return nullptr;
  }
}

}  // namespace

bool Csr::signature_valid() const {
  const Impl& c = *impl_;
  if (c.public_key.empty()) return false;
  EVP_PKEY* key = Access::pkey(c.public_key);
  const unsigned char* info_der = c.der.data() + c.info_offset;
  // ECDSA over an EC key (what mqttpki and nearly every device sends): EVP_DigestVerify directly over the
  // CertificationRequestInfo exactly as received, which is what ASN1_item_verify_ex computes too, without
  // its per-call digest fetch and re-encoding. The BIT STRING must have no unused bits (as there).
  if (const EVP_MD* md = ecdsa_digest(c.signature_algorithm.get());
      md != nullptr && EVP_PKEY_is_a(key, "EC") && (c.signature->flags & 0x07) == 0) {
    ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    bool ok = false;
    if (ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) == 1) {
      // Finish on the context itself rather than on a copy of it (it is not used again).
      EVP_MD_CTX_set_flags(ctx.get(), EVP_MD_CTX_FLAG_FINALISE);
      ok = EVP_DigestVerify(ctx.get(), ASN1_STRING_get0_data(c.signature.get()),
                            static_cast<std::size_t>(ASN1_STRING_length(c.signature.get())), info_der,
                            c.info_size) == 1;
    }
    ERR_clear_error();
    return ok;
  }
  // Any other algorithm: the CertificationRequestInfo exactly as received, through the same
  // ASN1_item_verify_ex that X509_REQ_verify uses (an ANY holding a SEQUENCE encodes as its bytes,
  // unchanged).
  ossl::Ptr<ASN1_TYPE, ASN1_TYPE_free> info(ASN1_TYPE_new());
  ASN1_STRING* bytes = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
  bool ok = info && bytes && ASN1_STRING_set(bytes, info_der, static_cast<int>(c.info_size)) == 1;
  if (ok) {
    ASN1_TYPE_set(info.get(), V_ASN1_SEQUENCE, bytes);
  } else {
    ASN1_STRING_free(bytes);
  }
  ok = ok && ASN1_item_verify_ex(ASN1_ITEM_rptr(ASN1_ANY), c.signature_algorithm.get(), c.signature.get(), info.get(),
                                 nullptr, key, nullptr, nullptr) == 1;
  ERR_clear_error();
  return ok;
}

void Csr::verify_signature() const {
  if (!signature_valid()) {
    throw Error(Errc::verify_failed, "the CSR's signature does not verify (the request is damaged or was altered)");
  }
}

Name Csr::subject() const { return Access::make_name(std::shared_ptr<const X509_NAME>(impl_->subject)); }

PublicKey Csr::public_key() const {
  if (impl_->public_key.empty()) throw Error(Errc::bad_format, "the CSR's public key: unsupported or damaged key");
  return impl_->public_key;
}

std::vector<GeneralName> Csr::sans() const {
  const auto& exts = impl_->extensions;
  if (!exts) return {};
  auto* names = static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) {
    ERR_clear_error();
    return {};
  }
  ossl::GeneralNamesPtr owner(names);
  return ossl::from_general_names(names);
}

std::vector<std::string> Csr::requested_extensions() const {
  const auto& exts = impl_->extensions;
  std::vector<std::string> out;
  if (!exts) return out;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    out.push_back(ossl::object_name(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts.get(), i))));
  }
  return out;
}

}  // namespace mqttpki::pki
