#include "helpers.hpp"

#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include <algorithm>

using namespace pki_test;

namespace {

int csr_signature_nid(const Csr& csr) {
  Bytes der = csr.to_der();
  const unsigned char* p = der.data();
  X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size()));
  REQUIRE(req != nullptr);
  int nid = X509_REQ_get_signature_nid(req);
  X509_REQ_free(req);
  return nid;
}

// A CSR that asks for more than a SAN: CA:TRUE, keyCertSign, and a SAN, signed properly.
Csr greedy_csr(const PrivateKey& key, EVP_PKEY* raw_key) {
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_version(req, X509_REQ_VERSION_1);
  X509_NAME* name = X509_REQ_get_subject_name(req);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("greedy"), -1, -1, 0);
  X509_REQ_set_pubkey(req, raw_key);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, nullptr, nullptr, req, nullptr, 0);
  sk_X509_EXTENSION_push(exts, X509V3_EXT_nconf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
  sk_X509_EXTENSION_push(exts, X509V3_EXT_nconf_nid(nullptr, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  sk_X509_EXTENSION_push(exts, X509V3_EXT_nconf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:greedy.example"));
  X509_REQ_add_extensions(req, exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  REQUIRE(X509_REQ_sign(req, raw_key, EVP_sha256()) > 0);
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req, &der);
  Bytes bytes(der, der + len);
  OPENSSL_free(der);
  X509_REQ_free(req);
  (void)key;
  return Csr::load(bytes);
}

}  // namespace

TEST_CASE("CSR create, load, accessors", "[csr]") {
  PrivateKey key = PrivateKey::generate(KeyType::p256);
  Csr csr = Csr::create(key, Name::build("pi1", "Home"), {parse_san("DNS:pi1.local"), parse_san("IP:192.0.2.7")});
  CHECK(csr.signature_valid());
  CHECK_NOTHROW(csr.verify_signature());
  CHECK(csr.subject().to_string() == "CN=pi1,O=Home");
  CHECK(csr.public_key() == key.public_key());
  REQUIRE(csr.sans().size() == 2);
  CHECK(csr.sans()[0].to_string() == "DNS:pi1.local");
  CHECK(csr.sans()[1].to_string() == "IP:192.0.2.7");
  CHECK(csr.requested_extensions() == std::vector<std::string>{"subjectAltName"});
  CHECK(csr_signature_nid(csr) == NID_ecdsa_with_SHA256);

  std::string pem = csr.to_pem();
  CHECK(pem.rfind("-----BEGIN CERTIFICATE REQUEST-----", 0) == 0);
  Csr from_pem = Csr::load(pem);
  CHECK(from_pem.to_der() == csr.to_der());
  Csr from_der = Csr::load(csr.to_der());
  CHECK(from_der.subject() == csr.subject());
  CHECK(from_der.signature_valid());
}

TEST_CASE("CSR without SANs; digests per key type", "[csr]") {
  Csr plain = Csr::create(PrivateKey::generate(KeyType::p256), Name::build("x"));
  CHECK(plain.sans().empty());
  CHECK(plain.requested_extensions().empty());
  CHECK(csr_signature_nid(Csr::create(PrivateKey::generate(KeyType::p384), Name::build("x"))) == NID_ecdsa_with_SHA384);
  Csr ed = Csr::create(PrivateKey::generate(KeyType::ed25519), Name::build("x"));
  CHECK(csr_signature_nid(ed) == NID_ED25519);
  CHECK(ed.signature_valid());
}

TEST_CASE("CSR with a flipped signature byte fails verification", "[csr]") {
  PrivateKey key = PrivateKey::generate(KeyType::p256);
  Bytes der = Csr::create(key, Name::build("pi1"), {parse_san("DNS:pi1.local")}).to_der();
  der[der.size() - 3] ^= 0x01;  // inside the signature's INTEGER s
  Csr bad = Csr::load(der);
  CHECK_FALSE(bad.signature_valid());
  REQUIRE_ERROR(bad.verify_signature(), Errc::verify_failed, "signature does not verify");
  REQUIRE_ERROR(from_csr(bad), Errc::verify_failed);
}

TEST_CASE("CSR with an altered subject fails verification", "[csr]") {
  PrivateKey key = PrivateKey::generate(KeyType::p256);
  Bytes der = Csr::create(key, Name::build("pi1")).to_der();
  auto it = std::search(der.begin(), der.end(), std::begin("pi1"), std::end("pi1") - 1);
  REQUIRE(it != der.end());
  *it = 'q';
  CHECK_FALSE(Csr::load(der).signature_valid());
}

TEST_CASE("a CSR requesting CA:TRUE only contributes its SAN", "[csr][issue]") {
  auto raw = raw_ec("P-256");
  PrivateKey key = to_private(raw.get());
  Csr csr = greedy_csr(key, raw.get());
  CHECK(csr.signature_valid());
  auto exts = csr.requested_extensions();
  CHECK(exts == std::vector<std::string>{"basicConstraints", "keyUsage", "subjectAltName"});
  IssueRequest req = from_csr(csr);
  CHECK(req.subject.to_string() == "CN=greedy");
  CHECK(req.public_key == key.public_key());
  REQUIRE(req.sans.size() == 1);
  CHECK(req.sans[0].to_string() == "DNS:greedy.example");
  CHECK(req.ignored_csr_extensions == std::vector<std::string>{"basicConstraints", "keyUsage"});

  auto ca = make_test_ca();
  req.now = fixed_now();
  req.profile = Profile::server;
  IssueResult res = issue(ca.cert, ca.key, req);
  auto bc = res.certificate.basic_constraints();
  REQUIRE(bc);
  CHECK_FALSE(bc->ca);
  CHECK(res.certificate.key_usage() == std::vector<std::string>{"digitalSignature"});
  REQUIRE(res.warnings.size() == 1);
  CHECK(res.warnings[0].find("basicConstraints, keyUsage") != std::string::npos);
  CHECK(res.warnings[0].find("only subjectAltName") != std::string::npos);
}

TEST_CASE("CSR loader errors", "[csr][errors]") {
  auto ca = make_test_ca();
  REQUIRE_ERROR(Csr::load(ca.cert.to_pem()), Errc::bad_format,
                "expected a certificate request (PEM 'BEGIN CERTIFICATE REQUEST' or DER), found a certificate");
  REQUIRE_ERROR(Csr::load(ca.key.to_pem()), Errc::bad_format, "found a private key");
  REQUIRE_ERROR(Csr::load(ca.cert.to_der()), Errc::bad_format, "found a certificate");
  std::string pem = Csr::create(ca.key, Name::build("x")).to_pem();
  REQUIRE_ERROR(Csr::load(pem.substr(0, 100)), Errc::bad_format, "truncated or damaged PEM");
}

namespace {

// A CSR built and encoded by OpenSSL alone.
Bytes raw_csr_der(EVP_PKEY* key, const EVP_MD* md) {
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_version(req, X509_REQ_VERSION_1);
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("raw"), -1, -1, 0);
  X509_REQ_set_pubkey(req, key);
  REQUIRE(X509_REQ_sign(req, key, md) > 0);
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req, &der);
  REQUIRE(len > 0);
  Bytes bytes(der, der + len);
  OPENSSL_free(der);
  X509_REQ_free(req);
  return bytes;
}

}  // namespace

// Every key type a device may send: key, subject, signature check, and the exact bytes back.
TEST_CASE("Csr::load reads requests of every key type", "[csr]") {
  PkeyPtr compressed = raw_ec("P-256");
  REQUIRE(EVP_PKEY_set_utf8_string_param(compressed.get(), "point-format", "compressed") == 1);
  struct Case {
    const char* what;
    PkeyPtr key;
    const EVP_MD* md;
  };
  std::vector<Case> cases;
  cases.push_back({"P-256", raw_ec("P-256"), EVP_sha256()});
  cases.push_back({"P-256 compressed point", std::move(compressed), EVP_sha256()});
  cases.push_back({"P-384", raw_ec("P-384"), EVP_sha384()});
  cases.push_back({"P-521", raw_ec("P-521"), EVP_sha512()});
  cases.push_back({"secp256k1", raw_ec("secp256k1"), EVP_sha256()});
  cases.push_back({"RSA", raw_rsa(2048), EVP_sha256()});
  cases.push_back({"Ed25519", PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")), nullptr});
  for (auto& c : cases) {
    INFO(c.what);
    const Bytes der = raw_csr_der(c.key.get(), c.md);
    const unsigned char* p = der.data();
    X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size()));
    REQUIRE(req != nullptr);
    Csr csr = Csr::load(der);
    CHECK(csr.to_der() == der);
    CHECK(csr.signature_valid());
    CHECK(csr.public_key() == PublicKey::load(public_pem(X509_REQ_get0_pubkey(req))));
    CHECK(csr.subject().to_string() == "CN=raw");
    BioPtr bio(BIO_new(BIO_s_mem()));
    REQUIRE(PEM_write_bio_X509_REQ(bio.get(), req) == 1);
    CHECK(csr.to_pem() == bio_string(bio.get()));
    X509_REQ_free(req);
    // One flipped bit in the signed part fails.
    Bytes bad = der;
    bad[der.size() / 3] ^= 0x01;
    if (auto flipped = [&]() -> std::optional<Csr> {
          try {
            return Csr::load(bad);
          } catch (const Error&) {
            return std::nullopt;
          }
        }()) {
      CHECK_FALSE(flipped->signature_valid());
    }
  }
}

TEST_CASE("Csr::load refuses trailing bytes and a damaged structure", "[csr][errors]") {
  PrivateKey key = PrivateKey::generate(KeyType::p256);
  Bytes der = Csr::create(key, Name::build("x")).to_der();
  Bytes longer = der;
  longer.push_back(0);
  REQUIRE_ERROR(Csr::load(longer), Errc::bad_format, "expected a certificate request");
  Bytes shorter(der.begin(), der.end() - 1);
  REQUIRE_ERROR(Csr::load(shorter), Errc::bad_format, "expected a certificate request");
  Bytes wrong_tag = der;
  wrong_tag[4] = 0x31;  // the CertificationRequestInfo SEQUENCE becomes a SET
  REQUIRE_ERROR(Csr::load(wrong_tag), Errc::bad_format, "expected a certificate request");
}

TEST_CASE("a CSR whose EC point is not on its curve has no usable key", "[csr][errors]") {
  for (KeyType type : {KeyType::p256, KeyType::p384}) {
    PrivateKey key = PrivateKey::generate(type);
    Csr good = Csr::create(key, Name::build("x"));
    Bytes der = good.to_der();
    // The uncompressed point (04 || X || Y) sits at the end of the BIT STRING in the SubjectPublicKeyInfo;
    // find it by the key's own encoding and change the last byte of Y.
    const std::string pub_pem = key.public_key().to_pem();
    BioPtr bio(BIO_new_mem_buf(pub_pem.data(), static_cast<int>(pub_pem.size())));
    PkeyPtr pub(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(pub);
    unsigned char* spki = nullptr;
    const int spki_len = i2d_PUBKEY(pub.get(), &spki);
    REQUIRE(spki_len > 0);
    Bytes point(spki, spki + spki_len);
    OPENSSL_free(spki);
    const std::size_t coord = type == KeyType::p256 ? 32 : 48;
    Bytes raw(point.end() - static_cast<long>(1 + 2 * coord), point.end());
    REQUIRE(raw.front() == 0x04);
    auto at = std::search(der.begin(), der.end(), raw.begin(), raw.end());
    REQUIRE(at != der.end());
    *(at + static_cast<long>(raw.size()) - 1) ^= 0x01;
    Csr bad = Csr::load(der);  // the structure is fine
    CHECK_FALSE(bad.signature_valid());
    REQUIRE_ERROR(bad.public_key(), Errc::bad_format, "public key");
    REQUIRE_ERROR(bad.verify_signature(), Errc::verify_failed, "signature does not verify");
  }
}

TEST_CASE("Csr::load: the key policy for CSR keys is what it is for the same key loaded otherwise", "[csr][policy]") {
  PkeyPtr compressed = raw_ec("P-256");
  REQUIRE(EVP_PKEY_set_utf8_string_param(compressed.get(), "point-format", "compressed") == 1);
  std::vector<std::pair<const char*, PkeyPtr>> keys;
  keys.emplace_back("P-256", raw_ec("P-256"));
  keys.emplace_back("P-256 compressed", std::move(compressed));
  keys.emplace_back("P-384", raw_ec("P-384"));
  keys.emplace_back("P-521", raw_ec("P-521"));
  keys.emplace_back("secp256k1", raw_ec("secp256k1"));
  keys.emplace_back("RSA 2048", raw_rsa(2048));
  keys.emplace_back("RSA 1024", raw_rsa(1024));
  keys.emplace_back("Ed25519", PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")));
  for (auto& [what, key] : keys) {
    INFO(what);
    const EVP_MD* md = EVP_PKEY_is_a(key.get(), "ED25519") ? nullptr
                       : EVP_PKEY_is_a(key.get(), "EC") && EVP_PKEY_get_bits(key.get()) > 256 ? EVP_sha384()
                                                                                              : EVP_sha256();
    const PublicKey from_csr = Csr::load(raw_csr_der(key.get(), md)).public_key();
    const PublicKey loaded = PublicKey::load(public_pem(key.get()));
    CHECK(from_csr == loaded);
    CHECK(from_csr.type() == loaded.type());
    auto verdict = [](const PublicKey& k) -> std::string {
      try {
        check_key_policy(k);
        return "accepted";
      } catch (const Error& e) {
        return e.what();
      }
    };
    CHECK(verdict(from_csr) == verdict(loaded));
  }
}
