#pragma once
// Private and public keys. Generation: P-256, P-384, Ed25519. Loading also accepts RSA >= 2048.
// Keys are immutable values; copies share the underlying OpenSSL object.

#include <mqttpki/pki/types.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mqttpki::pki {

class Certificate;

enum class KeyType { p256, p384, ed25519, rsa };

// "p256", "p384", "ed25519", "rsa" (the spelling parse_key_type accepts).
std::string_view to_string(KeyType type) noexcept;
// "p256" | "p-256" | "prime256v1" | "secp256r1", "p384" | "p-384" | "secp384r1", "ed25519", "rsa"
// (case-insensitive). Throws Errc::invalid_argument naming the accepted values.
KeyType parse_key_type(std::string_view text);

// How an encrypted private key PEM derives its AES-256-CBC key from the passphrase.
enum class Kdf {
  scrypt,  // N=16384, r=8, p=1 (OpenSSL's limits accept it everywhere)
  pbkdf2,  // PBKDF2-HMAC-SHA256, 200000 iterations
};

class PublicKey {
 public:
  PublicKey();  // empty; every accessor except empty() throws Errc::invalid_argument

  // PEM "BEGIN PUBLIC KEY" or DER SubjectPublicKeyInfo.
  static PublicKey load(ByteView data);
  static PublicKey load(std::string_view data) { return load(as_bytes(data)); }

  [[nodiscard]] bool empty() const noexcept { return impl_ == nullptr; }
  // DER SubjectPublicKeyInfo.
  [[nodiscard]] Bytes der() const;
  [[nodiscard]] std::string to_pem() const;
  // SHA-256 of der(), colon hex (as Certificate::fingerprint_sha256()): tells whether two certificates share a key.
  [[nodiscard]] std::string fingerprint_sha256() const;
  // nullopt for a key this library does not use (DSA, other curves, RSA < 2048 still says rsa).
  [[nodiscard]] std::optional<KeyType> type() const;
  // "EC P-256", "EC P-384", "Ed25519", "RSA 2048", and for others e.g. "EC secp224r1", "DSA 2048".
  [[nodiscard]] std::string type_name() const;
  [[nodiscard]] int bits() const;

  friend bool operator==(const PublicKey& a, const PublicKey& b);

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  friend struct detail::Access;
};

class PrivateKey {
 public:
  // P-256, P-384 or Ed25519. KeyType::rsa throws Errc::invalid_argument (RSA is accepted only when loading).
  static PrivateKey generate(KeyType type);

  // PEM or DER, detected automatically: PKCS#8, encrypted PKCS#8, SEC1 EC ("BEGIN EC PRIVATE KEY",
  // also after an "EC PARAMETERS" block as `openssl ecparam -genkey` writes it), traditional RSA,
  // legacy encrypted PEM. Errors:
  //   Errc::bad_passphrase  encrypted and no passphrase given, or the passphrase is wrong
  //   Errc::bad_format      not a private key ("expected a private key ..., found a certificate"),
  //                         "truncated or damaged PEM"
  //   Errc::policy          the key fails check_key_policy() (RSA < 2048, P-224, DSA, ...)
  static PrivateKey load(ByteView data, std::optional<std::string_view> passphrase = std::nullopt);
  static PrivateKey load(std::string_view data, std::optional<std::string_view> passphrase = std::nullopt) {
    return load(as_bytes(data), passphrase);
  }
  // True if the data is an encrypted private key (so the caller knows to ask for a passphrase).
  static bool is_encrypted(ByteView data);

  // PKCS#8 PEM ("BEGIN PRIVATE KEY"); with a passphrase, encrypted PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY")
  // with AES-256-CBC and the given KDF. An empty passphrase is refused (Errc::invalid_argument).
  [[nodiscard]] std::string to_pem(std::optional<std::string_view> passphrase = std::nullopt,
                                   Kdf kdf = Kdf::scrypt) const;
  // Unencrypted PKCS#8 DER.
  [[nodiscard]] Bytes to_der() const;

  [[nodiscard]] PublicKey public_key() const;
  [[nodiscard]] KeyType type() const;
  [[nodiscard]] std::string type_name() const;  // as PublicKey::type_name()
  [[nodiscard]] int bits() const;

  // The certificate's public key is this key's public half.
  [[nodiscard]] bool matches(const Certificate& cert) const;
  [[nodiscard]] bool matches(const PublicKey& key) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  explicit PrivateKey(std::shared_ptr<const Impl> impl);
  friend struct detail::Access;
};

// Throws Errc::policy unless the key is EC P-256, EC P-384, Ed25519 or RSA >= 2048 bits, e.g.
// "key is RSA 1024: RSA keys must be at least 2048 bits (use a P-256 key)".
void check_key_policy(const PublicKey& key);
inline void check_key_policy(const PrivateKey& key) { check_key_policy(key.public_key()); }

}  // namespace mqttpki::pki
