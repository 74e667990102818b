#include "helpers.hpp"

#include <openssl/obj_mac.h>

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
