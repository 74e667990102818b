#include "fixtures.hpp"
#include "helpers.hpp"

#include <openssl/sha.h>

using namespace pki_test;

TEST_CASE("Certificate load: PEM, DER, chain", "[certificate]") {
  auto ca = make_test_ca();
  auto leaf_key = PrivateKey::generate(KeyType::p256);
  auto leaf = issue(ca.cert, ca.key, make_request(leaf_key.public_key(), "pi1", Profile::client)).certificate;

  CHECK(Certificate::load(ca.cert.to_pem()) == ca.cert);
  CHECK(Certificate::load(ca.cert.to_der()) == ca.cert);
  CHECK(Certificate::load(ca.cert.to_pem()).to_der() == ca.cert.to_der());

  std::string bundle = leaf.to_pem() + ca.cert.to_pem();
  auto chain = Certificate::load_chain(bundle);
  REQUIRE(chain.size() == 2);
  CHECK(chain[0] == leaf);
  CHECK(chain[1] == ca.cert);
  CHECK(Certificate::load_chain(ca.cert.to_der()).size() == 1);
  // CRLF line ends (a file that went through Windows) load the same.
  std::string crlf;
  for (char ch : ca.cert.to_pem()) {
    if (ch == '\n') crlf += '\r';
    crlf += ch;
  }
  CHECK(Certificate::load(crlf) == ca.cert);
  // Text around blocks (as `openssl x509 -text` leaves) is ignored.
  CHECK(Certificate::load("subject=CN=Test CA\n" + ca.cert.to_pem() + "trailing\n") == ca.cert);

  REQUIRE_ERROR(Certificate::load(bundle), Errc::bad_format, "expected one certificate, found 2");
  REQUIRE_ERROR(Certificate::load_chain(ca.cert.to_pem() + leaf_key.to_pem()), Errc::bad_format,
                "found a private key after certificate 1");
}

TEST_CASE("Certificate loader errors", "[certificate][errors]") {
  auto ca = make_test_ca();
  REQUIRE_ERROR(Certificate::load(ca.key.to_pem()), Errc::bad_format,
                "expected a certificate (PEM 'BEGIN CERTIFICATE' or DER), found a private key");
  REQUIRE_ERROR(Certificate::load(ca.key.to_der()), Errc::bad_format, "found a private key");
  REQUIRE_ERROR(Certificate::load(ca.key.to_pem("pw")), Errc::bad_format, "found an encrypted private key");
  REQUIRE_ERROR(Certificate::load(fixtures::ec_with_params), Errc::bad_format, "found a private key");
  REQUIRE_ERROR(Certificate::load(Csr::create(ca.key, Name::build("x")).to_pem()), Errc::bad_format,
                "found a certificate request (CSR)");
  REQUIRE_ERROR(Certificate::load(std::string_view("")), Errc::bad_format, "found nothing (empty input)");
  REQUIRE_ERROR(Certificate::load(std::string_view("not a certificate")), Errc::bad_format, "neither PEM nor DER");
  std::string pem = ca.cert.to_pem();
  REQUIRE_ERROR(Certificate::load(pem.substr(0, pem.size() - 30)), Errc::bad_format, "truncated or damaged PEM");
  // Body cut short but END line intact.
  std::string cut = pem.substr(0, 100) + "\n-----END CERTIFICATE-----\n";
  REQUIRE_ERROR(Certificate::load(cut), Errc::bad_format, "truncated or damaged PEM");
  Bytes der = ca.cert.to_der();
  der.resize(der.size() - 10);
  REQUIRE_ERROR(Certificate::load(der), Errc::bad_format, "expected a certificate");
  Bytes trailing = ca.cert.to_der();
  trailing.push_back(0);
  REQUIRE_ERROR(Certificate::load(trailing), Errc::bad_format);
}

TEST_CASE("Certificate accessors", "[certificate]") {
  auto ca = make_test_ca();
  auto key = PrivateKey::generate(KeyType::p256);
  auto leaf = issue(ca.cert, ca.key,
                    make_request(key.public_key(), "mqtt", Profile::server, {"DNS:mqtt.example.com", "IP:203.0.113.5"}))
                  .certificate;
  CHECK(leaf.version() == 3);
  CHECK(leaf.subject().to_string() == "CN=mqtt,O=Home");
  CHECK(leaf.issuer().to_string() == "CN=Test CA,O=Home");
  CHECK(leaf.key_type_name() == "EC P-256");
  CHECK(leaf.public_key() == key.public_key());
  CHECK(leaf.public_key_der() == key.public_key().der());
  CHECK(leaf.signature_algorithm() == "ecdsa-with-SHA256");
  CHECK(leaf.extension_names() == std::vector<std::string>{"basicConstraints", "keyUsage", "extendedKeyUsage",
                                                           "subjectKeyIdentifier", "authorityKeyIdentifier",
                                                           "subjectAltName"});
  CHECK(leaf.sans() == std::vector<GeneralName>{parse_san("DNS:mqtt.example.com"), parse_san("IP:203.0.113.5")});

  // Fingerprint: SHA-256 of the DER, colon hex.
  Bytes der = leaf.to_der();
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(der.data(), der.size(), md);
  std::string fp = leaf.fingerprint_sha256();
  CHECK(fp.size() == 32 * 3 - 1);
  char first[3];
  std::snprintf(first, sizeof first, "%02X", md[0]);
  CHECK(fp.substr(0, 2) == first);

  CHECK(ca.cert.is_self_signed());
  CHECK_FALSE(leaf.is_self_signed());
  CHECK(ca.cert.is_ca());
  CHECK_FALSE(leaf.is_ca());
  REQUIRE(leaf.subject_key_id_hex());
  CHECK(leaf.subject_key_id_hex()->size() == 20 * 3 - 1);
  CHECK(leaf.authority_key_id_hex() == ca.cert.subject_key_id_hex());
}

TEST_CASE("describe() for inspect", "[certificate]") {
  auto ca = make_test_ca();
  auto key = PrivateKey::generate(KeyType::ed25519);
  auto leaf = issue(ca.cert, ca.key, make_request(key.public_key(), "pi1", Profile::client, {"URI:urn:dev:pi1"}, 30))
                  .certificate;
  CertificateInfo info = leaf.describe(fixed_now());
  CHECK(info.subject == "CN=pi1,O=Home");
  CHECK(info.issuer == "CN=Test CA,O=Home");
  CHECK(info.serial == leaf.serial_hex());
  CHECK(info.not_before_text == "2026-01-15T11:55:00Z");
  CHECK(info.not_after_text == "2026-02-14T12:00:00Z");
  CHECK(info.days_left == 30);
  CHECK_FALSE(info.expired);
  CHECK_FALSE(info.not_yet_valid);
  CHECK(info.status == "valid");
  CHECK(info.key_type == "Ed25519");
  CHECK(info.signature_algorithm == "ecdsa-with-SHA256");
  CHECK(info.sans == std::vector<std::string>{"URI:urn:dev:pi1"});
  CHECK(info.key_usage == std::vector<std::string>{"digitalSignature"});
  CHECK(info.extended_key_usage == std::vector<std::string>{"clientAuth"});
  REQUIRE(info.basic_constraints);
  CHECK_FALSE(info.is_ca);
  CHECK_FALSE(info.self_signed);
  CHECK(info.authority_key_id == *ca.cert.subject_key_id_hex());
  CHECK(info.fingerprint_sha256 == leaf.fingerprint_sha256());

  CertificateInfo later = leaf.describe(fixed_now() + std::chrono::hours(24 * 31));
  CHECK(later.expired);
  CHECK(later.status == "expired");
  CHECK(later.days_left == -1);
  CertificateInfo before = leaf.describe(fixed_now() - 10min);
  CHECK(before.not_yet_valid);
  CHECK(before.status == "not yet valid");

  CertificateInfo ca_info = ca.cert.describe(fixed_now());
  CHECK(ca_info.is_ca);
  CHECK(ca_info.self_signed);
  CHECK(ca_info.key_usage == std::vector<std::string>{"keyCertSign", "cRLSign"});
  CHECK(ca_info.extended_key_usage.empty());
  CHECK(ca_info.sans.empty());
}
