#include "issued_check.hpp"

#include "ossl.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace mqttpki::pki::detail {

namespace {

// d2i of one extension's value, which must be consumed completely; null if it does not decode.
template <class T, auto Free>
ossl::Ptr<T, Free> decode(T* (*d2i)(T**, const unsigned char**, long), const X509_EXTENSION* ext) {
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(const_cast<X509_EXTENSION*>(ext));
  const unsigned char* p = ASN1_STRING_get0_data(value);
  const unsigned char* end = p + ASN1_STRING_length(value);
  ossl::Ptr<T, Free> out(d2i(nullptr, &p, end - p));
  if (!out || p != end) {
    ERR_clear_error();
    return nullptr;
  }
  return out;
}

std::string error_text(int code) { return X509_verify_cert_error_string(code); }

// The SHA-1 of the certificate's subjectPublicKey BIT STRING contents (RFC 5280 4.2.1.2, method 1), with
// SHA-1 fetched once per process.
bool key_id_matches(X509* x, const ASN1_OCTET_STRING* ski) {
  static const ossl::Ptr<EVP_MD, EVP_MD_free> sha1(EVP_MD_fetch(nullptr, "SHA1", nullptr));
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(x);
  if (!sha1 || key == nullptr) return false;
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(ASN1_STRING_get0_data(key), static_cast<std::size_t>(ASN1_STRING_length(key)), md.data(), &len,
                 sha1.get(), nullptr) != 1) {
    ERR_clear_error();
    return false;
  }
  return static_cast<int>(len) == ASN1_STRING_length(ski) && std::memcmp(md.data(), ASN1_STRING_get0_data(ski), len) == 0;
}

// The value of an extension of a type issued_certificate_problem knows, checked against the expectations;
// x is needed for the subjectKeyIdentifier only (null: refused).
std::optional<std::string> value_problem(int nid, const X509_EXTENSION* ext, X509* x, const IssuedExpectations& expect) {
  switch (nid) {
    case NID_basic_constraints: {
      auto bc = decode<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>(d2i_BASIC_CONSTRAINTS, ext);
      if (!bc) return "basicConstraints does not decode";
      if (bc->ca != 0 || bc->pathlen != nullptr) return error_text(X509_V_ERR_INVALID_NON_CA);
      return std::nullopt;
    }
    case NID_key_usage: {
      auto ku = decode<ASN1_BIT_STRING, ASN1_BIT_STRING_free>(d2i_ASN1_BIT_STRING, ext);
      if (!ku) return "keyUsage does not decode";
      // Bits as numbered in RFC 5280: digitalSignature(0), keyCertSign(5), cRLSign(6).
      if (ASN1_BIT_STRING_get_bit(ku.get(), 0) != 1) return error_text(X509_V_ERR_INVALID_PURPOSE);
      if (ASN1_BIT_STRING_get_bit(ku.get(), 5) != 0 || ASN1_BIT_STRING_get_bit(ku.get(), 6) != 0) {
        return error_text(X509_V_ERR_INVALID_NON_CA);
      }
      return std::nullopt;
    }
    case NID_ext_key_usage: {
      auto eku = decode<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>(d2i_EXTENDED_KEY_USAGE, ext);
      if (!eku) return "extendedKeyUsage does not decode";
      const int wanted = expect.server ? NID_server_auth : NID_client_auth;
      bool found = false;
      for (int k = 0; k < sk_ASN1_OBJECT_num(eku.get()); ++k) {
        found = found || OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), k)) == wanted;
      }
      if (!found) return error_text(X509_V_ERR_INVALID_PURPOSE);
      return std::nullopt;
    }
    case NID_subject_key_identifier: {
      auto ski = decode<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>(d2i_ASN1_OCTET_STRING, ext);
      if (!ski) return "subjectKeyIdentifier does not decode";
      if (x == nullptr || !key_id_matches(x, ski.get())) return "subjectKeyIdentifier is not the key's identifier";
      return std::nullopt;
    }
    case NID_authority_key_identifier: {
      auto aki = decode<AUTHORITY_KEYID, AUTHORITY_KEYID_free>(d2i_AUTHORITY_KEYID, ext);
      if (!aki) return "authorityKeyIdentifier does not decode";
      if (aki->keyid == nullptr || aki->issuer != nullptr || aki->serial != nullptr ||
          ASN1_OCTET_STRING_cmp(aki->keyid, expect.ca_key_id) != 0) {
        return error_text(X509_V_ERR_AKID_SKID_MISMATCH);
      }
      return std::nullopt;
    }
    case NID_subject_alt_name: {
      auto san = decode<GENERAL_NAMES, GENERAL_NAMES_free>(d2i_GENERAL_NAMES, ext);
      if (!san || sk_GENERAL_NAME_num(san.get()) == 0) return "subjectAltName does not decode";
      return std::nullopt;
    }
    default:
      return "unexpected extension";
  }
}

// One of expect.checked with the same type and the same value bytes as ext.
bool already_checked(int nid, const X509_EXTENSION* ext, const IssuedExpectations& expect) {
  for (const X509_EXTENSION* known : expect.checked) {
    if (known == nullptr) continue;
    if (OBJ_obj2nid(X509_EXTENSION_get_object(const_cast<X509_EXTENSION*>(known))) != nid) continue;
    if (ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(const_cast<X509_EXTENSION*>(known)),
                              X509_EXTENSION_get_data(const_cast<X509_EXTENSION*>(ext))) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<std::string> extension_value_problem(const X509_EXTENSION* ext, const IssuedExpectations& expect) {
  const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(const_cast<X509_EXTENSION*>(ext)));
  return value_problem(nid, ext, nullptr, expect);
}

std::optional<std::string> issued_certificate_problem(X509* x, const IssuedExpectations& expect) {
  if (X509_get_version(x) != X509_VERSION_3) return error_text(X509_V_ERR_EXTENSIONS_REQUIRE_VERSION_3);
  if (X509_NAME_cmp(X509_get_issuer_name(x), expect.ca_subject) != 0) {
    return error_text(X509_V_ERR_SUBJECT_ISSUER_MISMATCH);
  }
  {
    const X509_ALGOR* outer = nullptr;
    X509_get0_signature(nullptr, &outer, x);
    int key_nid = NID_undef;
    if (outer == nullptr || X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(x)) != 0 ||
        OBJ_find_sigid_algs(X509_get_signature_nid(x), nullptr, &key_nid) != 1 || key_nid == NID_undef ||
        EVP_PKEY_is_a(expect.ca_key, OBJ_nid2sn(key_nid)) != 1) {
      return error_text(X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY);
    }
  }

  // The extensions a leaf may carry: each at most once, with this criticality; all but subjectAltName required.
  struct Allowed {
    int nid;
    const char* name;
    bool critical;
    bool seen = false;
  };
  std::array<Allowed, 6> allowed{{{NID_basic_constraints, "basicConstraints", true},
                                  {NID_key_usage, "keyUsage", true},
                                  {NID_ext_key_usage, "extendedKeyUsage", false},
                                  {NID_subject_key_identifier, "subjectKeyIdentifier", false},
                                  {NID_authority_key_identifier, "authorityKeyIdentifier", false},
                                  {NID_subject_alt_name, "subjectAltName", false}}};
  Allowed& san = allowed.back();
  const int count = X509_get_ext_count(x);
  for (int i = 0; i < count; ++i) {
    const X509_EXTENSION* ext = X509_get_ext(x, i);
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(const_cast<X509_EXTENSION*>(ext)));
    const bool critical = X509_EXTENSION_get_critical(ext) == 1;
    const std::string name = nid == NID_undef ? std::string("an unknown extension") : OBJ_nid2sn(nid);
    // Presence and criticality here; the value in value_problem, unless it is byte for byte one already
    // checked against these expectations (expect.checked).
    auto rule = std::find_if(allowed.begin(), allowed.end(), [nid](const Allowed& a) { return a.nid == nid; });
    if (rule == allowed.end())
      return "unexpected extension " + name +
             (critical ? " (critical: " + error_text(X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION) + ")" : "");
    if (rule->seen) return "duplicate extension " + name;
    rule->seen = true;
    if (critical != rule->critical) return std::string(rule->name) + (critical ? " is critical" : " is not critical");
    if (already_checked(nid, ext, expect)) continue;
    if (auto problem = value_problem(nid, ext, x, expect)) return problem;
  }
  for (const Allowed& a : allowed)
    if (&a != &san && !a.seen) return std::string("no ") + a.name;
  if (san.seen != expect.has_sans) return san.seen ? "an unexpected subjectAltName" : "no subjectAltName";
  return std::nullopt;
}

}  // namespace mqttpki::pki::detail
