#include "fixtures.hpp"
#include "helpers.hpp"

using namespace pki_test;

TEST_CASE("generate each key type", "[key]") {
  struct Case {
    KeyType type;
    const char* name;
    int bits;
  };
  for (auto c : {Case{KeyType::p256, "EC P-256", 256}, Case{KeyType::p384, "EC P-384", 384},
                 Case{KeyType::ed25519, "Ed25519", 256}}) {
    PrivateKey k = PrivateKey::generate(c.type);
    CHECK(k.type() == c.type);
    CHECK(k.type_name() == c.name);
    CHECK(k.bits() == c.bits);
    CHECK(k.public_key().type() == c.type);
    CHECK(k.public_key().type_name() == c.name);
    CHECK(k.matches(k.public_key()));
    CHECK_FALSE(k.matches(PrivateKey::generate(c.type).public_key()));
  }
  REQUIRE_ERROR(PrivateKey::generate(KeyType::rsa), Errc::invalid_argument, "p256");
}

TEST_CASE("parse_key_type and to_string", "[key]") {
  CHECK(parse_key_type("p256") == KeyType::p256);
  CHECK(parse_key_type("P-256") == KeyType::p256);
  CHECK(parse_key_type("prime256v1") == KeyType::p256);
  CHECK(parse_key_type("secp384r1") == KeyType::p384);
  CHECK(parse_key_type("Ed25519") == KeyType::ed25519);
  REQUIRE_ERROR(parse_key_type("dsa"), Errc::invalid_argument, "p256");
  for (auto t : {KeyType::p256, KeyType::p384, KeyType::ed25519, KeyType::rsa}) CHECK(parse_key_type(to_string(t)) == t);
}

TEST_CASE("PKCS#8 PEM and DER round trips", "[key]") {
  for (auto t : {KeyType::p256, KeyType::p384, KeyType::ed25519}) {
    PrivateKey k = PrivateKey::generate(t);
    std::string pem = k.to_pem();
    CHECK(pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
    PrivateKey back = PrivateKey::load(pem);
    CHECK(back.matches(k.public_key()));
    CHECK(back.to_pem() == pem);
    PrivateKey from_der = PrivateKey::load(k.to_der());  // DER detected without a hint
    CHECK(from_der.matches(k.public_key()));
    CHECK_FALSE(PrivateKey::is_encrypted(as_bytes(pem)));
  }
}

TEST_CASE("encrypted PKCS#8 with scrypt and PBKDF2", "[key][passphrase]") {
  PrivateKey k = PrivateKey::generate(KeyType::p256);
  for (Kdf kdf : {Kdf::scrypt, Kdf::pbkdf2}) {
    std::string pem = k.to_pem("correct horse", kdf);
    CHECK(pem.rfind("-----BEGIN ENCRYPTED PRIVATE KEY-----", 0) == 0);
    CHECK(PrivateKey::is_encrypted(as_bytes(pem)));
    CHECK(PrivateKey::load(pem, "correct horse").matches(k.public_key()));
    REQUIRE_ERROR(PrivateKey::load(pem, "wrong"), Errc::bad_passphrase, "wrong passphrase");
    REQUIRE_ERROR(PrivateKey::load(pem), Errc::bad_passphrase, "passphrase is needed");
  }
  REQUIRE_ERROR(k.to_pem(""), Errc::invalid_argument, "empty passphrase");
}

TEST_CASE("encrypted PKCS#8 DER is detected and decrypted", "[key][passphrase]") {
  PrivateKey k = PrivateKey::generate(KeyType::ed25519);
  std::string pem = k.to_pem("pw");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509_SIG* sig = PEM_read_bio_PKCS8(bio.get(), nullptr, nullptr, nullptr);
  REQUIRE(sig != nullptr);
  unsigned char* der = nullptr;
  int len = i2d_X509_SIG(sig, &der);
  X509_SIG_free(sig);
  Bytes bytes(der, der + len);
  OPENSSL_free(der);
  CHECK(PrivateKey::is_encrypted(bytes));
  CHECK(PrivateKey::load(bytes, "pw").matches(k.public_key()));
  REQUIRE_ERROR(PrivateKey::load(bytes, "nope"), Errc::bad_passphrase);
  REQUIRE_ERROR(PrivateKey::load(bytes), Errc::bad_passphrase, "passphrase is needed");
}

namespace {
// An encrypted PKCS#8 PEM whose algorithm identifier is `pbe` and whose ciphertext is junk: enough to test
// that the stated KDF cost is refused before any key derivation is attempted.
std::string encrypted_key_with(X509_ALGOR* pbe) {
  REQUIRE(pbe != nullptr);
  X509_SIG* sig = X509_SIG_new();
  X509_ALGOR* alg = nullptr;
  ASN1_OCTET_STRING* digest = nullptr;
  X509_SIG_getm(sig, &alg, &digest);
  REQUIRE(X509_ALGOR_copy(alg, pbe) == 1);
  X509_ALGOR_free(pbe);
  const unsigned char junk[48] = {1, 2, 3};
  REQUIRE(ASN1_OCTET_STRING_set(digest, junk, sizeof junk) == 1);
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PKCS8(bio.get(), sig) == 1);
  X509_SIG_free(sig);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}
}  // namespace

TEST_CASE("an encrypted key asking for a hostile KDF cost is refused before deriving anything", "[key][passphrase]") {
  // PBES2 + PBKDF2 with 2,000,000,000 iterations: hours of work for a single load attempt.
  std::string pbkdf2 = encrypted_key_with(
      PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), 2'000'000'000, nullptr, 0, nullptr, NID_hmacWithSHA256));
  REQUIRE_ERROR(PrivateKey::load(pbkdf2, "pw"), Errc::bad_format, "2000000000 key-derivation iterations");
  REQUIRE_ERROR(PrivateKey::load(pbkdf2), Errc::bad_format, "re-encrypt it");
  // scrypt with N*r*p = 2^23 (64 times what mqttpki writes)
  std::string scrypt = encrypted_key_with(PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), nullptr, 0, nullptr, 16384, 8, 64));
  REQUIRE_ERROR(PrivateKey::load(scrypt, "pw"), Errc::bad_format, "scrypt N=16384 r=8 p=64");
  // PBES1 / PKCS#12-style PBE (PBEParameter's iteration count)
  std::string pbes1 = encrypted_key_with(PKCS5_pbe_set(NID_pbe_WithSHA1And3_Key_TripleDES_CBC, 2'000'000'000, nullptr, 0));
  REQUIRE_ERROR(PrivateKey::load(pbes1, "pw"), Errc::bad_format, "key-derivation iterations");
  // a cost within the limits is derived, and then the junk ciphertext is a wrong passphrase as usual
  std::string fine = encrypted_key_with(PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), 1000, nullptr, 0, nullptr, NID_hmacWithSHA256));
  REQUIRE_ERROR(PrivateKey::load(fine, "pw"), Errc::bad_passphrase, "wrong passphrase");
}

TEST_CASE("SEC1 EC key as written by `openssl ecparam -genkey`, with its EC PARAMETERS block", "[key][sec1]") {
  PrivateKey k = PrivateKey::load(fixtures::ec_with_params);
  CHECK(k.type() == KeyType::p256);
  // Without the parameters block too.
  std::string s = fixtures::ec_with_params;
  std::string sec1 = s.substr(s.find("-----BEGIN EC PRIVATE KEY"));
  PrivateKey k2 = PrivateKey::load(sec1);
  CHECK(k2.matches(k.public_key()));
  // Round trip: loaded SEC1 comes out as PKCS#8 and loads back to the same key.
  CHECK(PrivateKey::load(k.to_pem()).matches(k.public_key()));
  CHECK(PrivateKey::load(k.to_pem("x"), "x").matches(k.public_key()));
  // SEC1 DER (the body of the PEM block) is detected too.
  BioPtr bio(BIO_new_mem_buf(sec1.data(), static_cast<int>(sec1.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  REQUIRE(PEM_read_bio(bio.get(), &name, &header, &data, &len) == 1);
  Bytes der(data, data + len);
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  CHECK(PrivateKey::load(der).matches(k.public_key()));
}

TEST_CASE("traditional RSA, plain and legacy-encrypted", "[key][rsa]") {
  PrivateKey rsa = PrivateKey::load(fixtures::rsa_traditional);
  CHECK(rsa.type() == KeyType::rsa);
  CHECK(rsa.type_name() == "RSA 2048");
  CHECK(rsa.bits() == 2048);
  CHECK(PrivateKey::is_encrypted(as_bytes(fixtures::rsa_traditional_encrypted)));
  PrivateKey enc = PrivateKey::load(fixtures::rsa_traditional_encrypted, "secret");
  CHECK(enc.type_name() == "RSA 2048");
  REQUIRE_ERROR(PrivateKey::load(fixtures::rsa_traditional_encrypted, "wrong"), Errc::bad_passphrase);
  REQUIRE_ERROR(PrivateKey::load(fixtures::rsa_traditional_encrypted), Errc::bad_passphrase, "needed");
}

TEST_CASE("key policy refuses weak and unsupported keys", "[key][policy]") {
  auto rsa1024 = raw_rsa(1024);
  REQUIRE_ERROR(PrivateKey::load(private_pem(rsa1024.get())), Errc::policy, "RSA 1024");
  PublicKey weak_pub = PublicKey::load(public_pem(rsa1024.get()));
  CHECK(weak_pub.type() == KeyType::rsa);
  REQUIRE_ERROR(check_key_policy(weak_pub), Errc::policy, "at least 2048 bits");

  auto p224 = raw_ec("P-224");
  REQUIRE_ERROR(PrivateKey::load(private_pem(p224.get())), Errc::policy, "EC secp224r1");
  PublicKey p224_pub = PublicKey::load(public_pem(p224.get()));
  CHECK_FALSE(p224_pub.type());
  REQUIRE_ERROR(check_key_policy(p224_pub), Errc::policy, "P-256 and P-384");

  REQUIRE_ERROR(PrivateKey::load(fixtures::dsa), Errc::policy, "DSA 2048");

  PkeyPtr ed448(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
  REQUIRE(ed448);
  REQUIRE_ERROR(PrivateKey::load(private_pem(ed448.get())), Errc::policy, "Ed448");

  CHECK_NOTHROW(check_key_policy(PrivateKey::load(fixtures::rsa_traditional)));
  CHECK_NOTHROW(check_key_policy(PrivateKey::generate(KeyType::p384)));
  CHECK_NOTHROW(check_key_policy(PrivateKey::generate(KeyType::ed25519)));
}

TEST_CASE("key loaders say what they expected and what they found", "[key][errors]") {
  auto ca = make_test_ca();
  REQUIRE_ERROR(PrivateKey::load(ca.cert.to_pem()), Errc::bad_format,
                "expected a private key (PEM 'BEGIN PRIVATE KEY'");
  REQUIRE_ERROR(PrivateKey::load(ca.cert.to_pem()), Errc::bad_format, "found a certificate");
  REQUIRE_ERROR(PrivateKey::load(ca.cert.to_der()), Errc::bad_format, "found a certificate");
  REQUIRE_ERROR(PrivateKey::load(ca.key.public_key().to_pem()), Errc::bad_format, "found a public key");
  REQUIRE_ERROR(PrivateKey::load(std::string_view("")), Errc::bad_format, "found nothing (empty input)");
  REQUIRE_ERROR(PrivateKey::load(std::string_view("garbage garbage")), Errc::bad_format, "neither PEM nor DER");
  std::string pem = ca.key.to_pem();
  REQUIRE_ERROR(PrivateKey::load(pem.substr(0, pem.size() / 2)), Errc::bad_format, "truncated or damaged PEM");
  std::string damaged = pem;
  damaged[40] = '!';
  REQUIRE_ERROR(PrivateKey::load(damaged), Errc::bad_format);
  std::string params_only = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
  REQUIRE_ERROR(PrivateKey::load(params_only),
                Errc::bad_format, "EC parameters");
}

TEST_CASE("PublicKey load, compare, encode", "[key]") {
  PrivateKey k = PrivateKey::generate(KeyType::p256);
  PublicKey pub = k.public_key();
  CHECK(PublicKey::load(pub.to_pem()) == pub);
  CHECK(PublicKey::load(pub.der()) == pub);
  CHECK_FALSE(PublicKey::load(pub.der()) == PrivateKey::generate(KeyType::p256).public_key());
  PublicKey empty;
  CHECK(empty.empty());
  REQUIRE_ERROR(empty.der(), Errc::invalid_argument);
  REQUIRE_ERROR(PublicKey::load(k.to_pem()), Errc::bad_format, "found a private key");
}

TEST_CASE("matches(Certificate)", "[key]") {
  auto ca = make_test_ca();
  CHECK(ca.key.matches(ca.cert));
  CHECK_FALSE(PrivateKey::generate(KeyType::p256).matches(ca.cert));
}
