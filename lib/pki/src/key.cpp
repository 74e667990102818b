#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/util.hpp>

#include "kdf_limits.hpp"
#include "ossl.hpp"
#include "pem.hpp"

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace mqttpki::pki {

namespace ossl {
MQTTPKI_OSSL_DELETER(OSSL_DECODER_CTX, OSSL_DECODER_CTX_free);
}  // namespace ossl

using detail::Access;

std::string_view to_string(KeyType type) noexcept {
  switch (type) {
    case KeyType::p256:
      return "p256";
    case KeyType::p384:
      return "p384";
    case KeyType::ed25519:
      return "ed25519";
    case KeyType::rsa:
      return "rsa";
  }
  return "unknown";
}

KeyType parse_key_type(std::string_view text) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "p256" || t == "p-256" || t == "prime256v1" || t == "secp256r1") return KeyType::p256;
  if (t == "p384" || t == "p-384" || t == "secp384r1") return KeyType::p384;
  if (t == "ed25519") return KeyType::ed25519;
  if (t == "rsa") return KeyType::rsa;
  throw Error(Errc::invalid_argument,
              "unknown key type \"" + std::string(text) + "\" (expected p256, p384 or ed25519)");
}

namespace {

std::string ec_group_name(EVP_PKEY* pkey) {
  std::array<char, 80> buf{};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, buf.data(), buf.size(), &len) != 1) {
    ERR_clear_error();
    return {};
  }
  return std::string(buf.data(), len);
}

std::optional<KeyType> key_type_of(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "ED25519")) return KeyType::ed25519;
  if (EVP_PKEY_is_a(pkey, "RSA")) return KeyType::rsa;
  if (EVP_PKEY_is_a(pkey, "EC")) {
    std::string group = ec_group_name(pkey);
    if (group == "prime256v1" || group == "P-256" || group == "secp256r1") return KeyType::p256;
    if (group == "secp384r1" || group == "P-384") return KeyType::p384;
  }
  return std::nullopt;
}

std::string type_name_of(EVP_PKEY* pkey) {
  int bits = EVP_PKEY_get_bits(pkey);
  if (EVP_PKEY_is_a(pkey, "ED25519")) return "Ed25519";
  if (EVP_PKEY_is_a(pkey, "ED448")) return "Ed448";
  if (EVP_PKEY_is_a(pkey, "RSA")) return "RSA " + std::to_string(bits);
  if (EVP_PKEY_is_a(pkey, "RSA-PSS")) return "RSA-PSS " + std::to_string(bits);
  if (EVP_PKEY_is_a(pkey, "DSA")) return "DSA " + std::to_string(bits);
  if (EVP_PKEY_is_a(pkey, "EC")) {
    std::string group = ec_group_name(pkey);
    if (group == "prime256v1") return "EC P-256";
    if (group == "secp384r1") return "EC P-384";
    if (group == "secp521r1") return "EC P-521";
    if (group.empty()) return "EC " + std::to_string(bits) + "-bit explicit curve";
    return "EC " + group;
  }
  const char* name = EVP_PKEY_get0_type_name(pkey);
  return name != nullptr ? std::string(name) : std::string("unknown key type");
}

// Passphrase plumbing for OpenSSL's decoders: remembers whether a passphrase was asked for.
struct PassState {
  std::optional<std::string_view> passphrase;
  bool asked = false;
};

int pass_cb(char* buf, int size, int /*rwflag*/, void* u) {
  auto* state = static_cast<PassState*>(u);
  state->asked = true;
  if (!state->passphrase) return -1;
  const auto& p = *state->passphrase;
  if (p.size() > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buf, p.data(), p.size());
  return static_cast<int>(p.size());
}

ossl::EvpPkeyPtr decode_private(ByteView data, const char* input_type, PassState& state) {
  EVP_PKEY* pkey = nullptr;
  OSSL_DECODER_CTX* raw = OSSL_DECODER_CTX_new_for_pkey(&pkey, input_type, nullptr, nullptr,
                                                        OSSL_KEYMGMT_SELECT_KEYPAIR, nullptr, nullptr);
  if (raw == nullptr) throw ossl::openssl_error("OSSL_DECODER_CTX_new_for_pkey");
  ossl::UniquePtr<OSSL_DECODER_CTX> ctx(raw);
  ossl::check(OSSL_DECODER_CTX_set_pem_password_cb(ctx.get(), pass_cb, &state) == 1,
              "OSSL_DECODER_CTX_set_pem_password_cb");
  const unsigned char* p = data.data();
  std::size_t len = data.size();
  const bool ok = OSSL_DECODER_from_data(ctx.get(), &p, &len) == 1;
  ossl::EvpPkeyPtr out(pkey);
  if (!ok) return nullptr;
  return out;
}

}  // namespace

// ---- PublicKey

PublicKey::PublicKey() = default;

PublicKey PublicKey::load(ByteView data) {
  constexpr std::string_view expected = "a public key (PEM 'BEGIN PUBLIC KEY' or DER)";
  Bytes der;
  if (pem::looks_like_pem(data)) {
    auto blocks = pem::read_blocks(data);
    auto it = std::find_if(blocks.begin(), blocks.end(), [](const pem::Block& b) { return b.label == "PUBLIC KEY"; });
    if (it == blocks.end()) pem::throw_expected(expected, pem::describe_input(data));
    der = it->der;
  } else {
    der.assign(data.begin(), data.end());
  }
  const unsigned char* p = der.data();
  ossl::EvpPkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey || p != der.data() + der.size()) {
    ERR_clear_error();
    pem::throw_expected(expected, pem::describe_input(data));
  }
  return Access::make_public(std::move(pkey));
}

Bytes PublicKey::der() const {
  return ossl::i2d_bytes(i2d_PUBKEY, Access::pkey(*this), "i2d_PUBKEY");
}

std::string PublicKey::to_pem() const {
  auto bio = ossl::new_mem_bio();
  ossl::check(PEM_write_bio_PUBKEY(bio.get(), Access::pkey(*this)) == 1, "PEM_write_bio_PUBKEY");
  return ossl::bio_to_string(bio.get());
}

std::string PublicKey::fingerprint_sha256() const { return sha256_fingerprint(der()); }

std::optional<KeyType> PublicKey::type() const { return key_type_of(Access::pkey(*this)); }
std::string PublicKey::type_name() const { return type_name_of(Access::pkey(*this)); }
int PublicKey::bits() const { return EVP_PKEY_get_bits(Access::pkey(*this)); }

bool operator==(const PublicKey& a, const PublicKey& b) {
  if (a.empty() || b.empty()) return a.empty() && b.empty();
  return EVP_PKEY_eq(Access::pkey(a), Access::pkey(b)) == 1;
}

// ---- policy

void check_key_policy(const PublicKey& key) {
  EVP_PKEY* pkey = Access::pkey(key);
  const auto name = [pkey] { return type_name_of(pkey); };
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    if (EVP_PKEY_get_bits(pkey) < 2048) {
      throw Error(Errc::policy, "key is " + name() + ": RSA keys must be at least 2048 bits (P-256 is recommended)");
    }
    return;
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    if (!key_type_of(pkey)) {
      throw Error(Errc::policy, "key is " + name() + ": only the EC curves P-256 and P-384 are accepted");
    }
    return;
  }
  if (EVP_PKEY_is_a(pkey, "ED25519")) return;
  throw Error(Errc::policy,
              "key is " + name() + ": accepted key types are EC P-256, EC P-384, Ed25519 and RSA of 2048 bits or more");
}

// ---- PrivateKey

PrivateKey::PrivateKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

PrivateKey PrivateKey::generate(KeyType type) {
  EVP_PKEY* pkey = nullptr;
  switch (type) {
    case KeyType::p256:
      pkey = EVP_EC_gen("P-256");
      break;
    case KeyType::p384:
      pkey = EVP_EC_gen("P-384");
      break;
    case KeyType::ed25519:
      pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case KeyType::rsa:
      throw Error(Errc::invalid_argument,
                  "RSA keys are accepted when loading but not generated; use p256, p384 or ed25519");
  }
  if (pkey == nullptr) throw ossl::openssl_error("key generation");
  return Access::make_private(ossl::EvpPkeyPtr(pkey));
}

PrivateKey PrivateKey::load(ByteView data, std::optional<std::string_view> passphrase) {
  constexpr std::string_view expected =
      "a private key (PEM 'BEGIN PRIVATE KEY', 'BEGIN EC PRIVATE KEY', 'BEGIN RSA PRIVATE KEY' or DER)";
  PassState state{passphrase, false};
  ossl::EvpPkeyPtr pkey;
  if (pem::looks_like_pem(data)) {
    auto blocks = pem::read_blocks(data);
    auto it = std::find_if(blocks.begin(), blocks.end(), [](const pem::Block& b) {
      auto k = pem::kind_of_label(b.label, b.encrypted);
      return k == ObjectKind::private_key || k == ObjectKind::encrypted_private_key;
    });
    if (it == blocks.end()) pem::throw_expected(expected, pem::describe_input(data));
    if (it->label == "ENCRYPTED PRIVATE KEY") detail::check_kdf_cost(it->der);
    pkey = decode_private(as_bytes(it->text), "PEM", state);
  } else {
    ObjectKind kind = pem::classify_der(data);
    if (kind != ObjectKind::private_key && kind != ObjectKind::encrypted_private_key) {
      pem::throw_expected(expected, pem::describe_input(data));
    }
    if (kind == ObjectKind::encrypted_private_key) detail::check_kdf_cost(data);
    pkey = decode_private(data, "DER", state);
  }
  if (!pkey) {
    std::string detail = ossl::drain_errors();
    if (state.asked && !passphrase) {
      throw Error(Errc::bad_passphrase, "the private key is encrypted: a passphrase is needed");
    }
    if (state.asked) {
      throw Error(Errc::bad_passphrase, "wrong passphrase for the encrypted private key");
    }
    throw Error(Errc::bad_format, "damaged private key" + (detail.empty() ? "" : " (" + detail + ")"));
  }
  ERR_clear_error();
  PrivateKey key = Access::make_private(std::move(pkey));
  check_key_policy(key);
  return key;
}

bool PrivateKey::is_encrypted(ByteView data) { return detect_kind(data) == ObjectKind::encrypted_private_key; }

std::string PrivateKey::to_pem(std::optional<std::string_view> passphrase, Kdf kdf) const {
  EVP_PKEY* pkey = Access::pkey(*this);
  auto bio = ossl::new_mem_bio();
  if (!passphrase) {
    ossl::check(PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1,
                "PEM_write_bio_PrivateKey");
    return ossl::bio_to_string(bio.get());
  }
  if (passphrase->empty()) throw Error(Errc::invalid_argument, "an empty passphrase is not accepted");
  ossl::Pkcs8InfoPtr p8(ossl::check_ptr(EVP_PKEY2PKCS8(pkey), "EVP_PKEY2PKCS8"));
  X509_ALGOR* pbe = nullptr;
  if (kdf == Kdf::scrypt) {
    pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), nullptr, 16, nullptr, 16384, 8, 1);
  } else {
    pbe = PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), 200000, nullptr, 16, nullptr, NID_hmacWithSHA256);
  }
  ossl::X509AlgorPtr pbe_owner(ossl::check_ptr(pbe, "PBES2 parameters"));
  X509_SIG* sig = PKCS8_set0_pbe(passphrase->data(), static_cast<int>(passphrase->size()), p8.get(), pbe);
  if (sig == nullptr) throw ossl::openssl_error("PKCS#8 encryption");
  pbe_owner.release();  // owned by sig now
  ossl::X509SigPtr sig_owner(sig);
  ossl::check(PEM_write_bio_PKCS8(bio.get(), sig) == 1, "PEM_write_bio_PKCS8");
  return ossl::bio_to_string(bio.get());
}

Bytes PrivateKey::to_der() const {
  ossl::Pkcs8InfoPtr p8(ossl::check_ptr(EVP_PKEY2PKCS8(Access::pkey(*this)), "EVP_PKEY2PKCS8"));
  unsigned char* out = nullptr;
  int len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &out);
  if (len <= 0) throw ossl::openssl_error("i2d_PKCS8_PRIV_KEY_INFO");
  Bytes bytes(out, out + len);
  OPENSSL_clear_free(out, static_cast<std::size_t>(len));
  return bytes;
}

PublicKey PrivateKey::public_key() const {
  // Re-encode only the public half so a PublicKey never carries private material.
  const Bytes der = ossl::i2d_bytes(i2d_PUBKEY, Access::pkey(*this), "i2d_PUBKEY");
  const unsigned char* p = der.data();
  ossl::EvpPkeyPtr pub(ossl::check_ptr(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())), "d2i_PUBKEY"));
  return Access::make_public(std::move(pub));
}

KeyType PrivateKey::type() const {
  auto t = key_type_of(Access::pkey(*this));
  if (!t) throw Error(Errc::policy, "unsupported key type " + type_name());
  return *t;
}

std::string PrivateKey::type_name() const { return type_name_of(Access::pkey(*this)); }
int PrivateKey::bits() const { return EVP_PKEY_get_bits(Access::pkey(*this)); }

bool PrivateKey::matches(const PublicKey& key) const {
  if (key.empty()) return false;
  return EVP_PKEY_eq(Access::pkey(*this), Access::pkey(key)) == 1;
}

bool PrivateKey::matches(const Certificate& cert) const {
  EVP_PKEY* pub = X509_get0_pubkey(Access::x509(cert));
  if (pub == nullptr) {
    ERR_clear_error();
    return false;
  }
  return EVP_PKEY_eq(Access::pkey(*this), pub) == 1;
}

}  // namespace mqttpki::pki
