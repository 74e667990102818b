#include "kdf_limits.hpp"

#include "ossl.hpp"

#include <mqttpki/error.hpp>

#include <fmt/format.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

namespace mqttpki::pki::ossl {
MQTTPKI_OSSL_DELETER(PBE2PARAM, PBE2PARAM_free);
MQTTPKI_OSSL_DELETER(PBKDF2PARAM, PBKDF2PARAM_free);
MQTTPKI_OSSL_DELETER(SCRYPT_PARAMS, SCRYPT_PARAMS_free);
MQTTPKI_OSSL_DELETER(PBEPARAM, PBEPARAM_free);
}  // namespace mqttpki::pki::ossl

namespace mqttpki::pki::detail {

namespace {

// The SEQUENCE parameter of an AlgorithmIdentifier, unpacked as T; null when absent or not T.
template <typename T>
T* unpack_params(const X509_ALGOR* alg, const ASN1_ITEM* item) {
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(nullptr, &ptype, &pval, alg);
  if (ptype != V_ASN1_SEQUENCE || pval == nullptr) return nullptr;
  return static_cast<T*>(ASN1_item_unpack(static_cast<const ASN1_STRING*>(pval), item));
}

std::uint64_t to_u64(const ASN1_INTEGER* v) {
  std::uint64_t out = 0;
  if (v == nullptr || ASN1_INTEGER_get_uint64(&out, v) != 1) {
    ERR_clear_error();
    return UINT64_MAX;  // negative or over 64 bits: certainly over any limit
  }
  return out;
}

[[noreturn]] void too_costly(std::string_view what, std::string_view limit) {
  throw Error(Errc::bad_format,
              fmt::format("the encrypted private key asks for {}, more than the {} mqttpki accepts; if the file is "
                          "yours, re-encrypt it (e.g. `openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD -out NEW`)",
                          what, limit));
}

void check_iterations(const ASN1_INTEGER* iter) {
  std::uint64_t n = to_u64(iter);
  if (n > kMaxPbkdf2Iterations)
    too_costly(fmt::format("{} key-derivation iterations", n == UINT64_MAX ? "2^64 or more" : fmt::to_string(n)),
               fmt::to_string(kMaxPbkdf2Iterations));
}

// OpenSSL's PEM and PKCS#8 decoders derive scrypt keys with its default memory cap, which no caller can raise:
// past it the decryption fails as a wrong passphrase would. Its formula (crypto/evp/pbe_scrypt.c: B + V).
void check_scrypt_memory(std::uint64_t n, std::uint64_t r, std::uint64_t p) {
  const std::uint64_t bytes = 128 * r * (n + 2) + 128 * r * p;  // within kMaxScryptWork: no overflow
  if (bytes <= kOpensslScryptMaxMem) return;
  throw Error(Errc::bad_format,
              fmt::format("the encrypted private key asks for scrypt N={} r={} p={}, which needs {} MiB, more than "
                          "the {} MiB OpenSSL allows, so no passphrase can open it here; re-encrypt it with the tool "
                          "that made it using smaller parameters (N=16384 r=8 p=1 needs 16 MiB)",
                          n, r, p, bytes >> 20, kOpensslScryptMaxMem >> 20));
}

void check_pbes2(const X509_ALGOR* alg) {
  ossl::UniquePtr<PBE2PARAM> pbe2(unpack_params<PBE2PARAM>(alg, ASN1_ITEM_rptr(PBE2PARAM)));
  if (!pbe2 || pbe2->keyfunc == nullptr) return;
  const ASN1_OBJECT* kdf = nullptr;
  X509_ALGOR_get0(&kdf, nullptr, nullptr, pbe2->keyfunc);
  switch (OBJ_obj2nid(kdf)) {
    case NID_id_pbkdf2: {
      ossl::UniquePtr<PBKDF2PARAM> p(
          unpack_params<PBKDF2PARAM>(pbe2->keyfunc, ASN1_ITEM_rptr(PBKDF2PARAM)));
      if (p) check_iterations(p->iter);
      break;
    }
    case NID_id_scrypt: {
      ossl::UniquePtr<SCRYPT_PARAMS> p(
          unpack_params<SCRYPT_PARAMS>(pbe2->keyfunc, ASN1_ITEM_rptr(SCRYPT_PARAMS)));
      if (!p) break;
      std::uint64_t n = to_u64(p->costParameter), r = to_u64(p->blockSize), par = to_u64(p->parallelizationParameter);
      bool over = n > kMaxScryptWork || r > kMaxScryptWork || par > kMaxScryptWork || n * r > kMaxScryptWork ||
                  n * r * par > kMaxScryptWork;  // || stops before a product could overflow
      if (over)
        too_costly(fmt::format("scrypt N={} r={} p={}", n, r, par), fmt::format("N*r*p = {}", kMaxScryptWork));
      check_scrypt_memory(n, r, par);
      break;
    }
    default:
      break;
  }
}

}  // namespace

void check_kdf_cost(ByteView der) {
  const unsigned char* p = der.data();
  ossl::X509SigPtr sig(d2i_X509_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) {
    ERR_clear_error();
    return;
  }
  const X509_ALGOR* alg = nullptr;
  X509_SIG_get0(sig.get(), &alg, nullptr);
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
  if (OBJ_obj2nid(oid) == NID_pbes2) {
    check_pbes2(alg);
  } else {  // PBES1 and the PKCS#12 PBE schemes: PBEParameter { salt, iterationCount }
    ossl::UniquePtr<PBEPARAM> p1(unpack_params<PBEPARAM>(alg, ASN1_ITEM_rptr(PBEPARAM)));
    if (p1) check_iterations(p1->iter);
  }
  ERR_clear_error();
}

}  // namespace mqttpki::pki::detail
