#include "helpers.hpp"

#include <mqttpki/pki/cms.hpp>

using namespace pki_test;

namespace {
struct Device {
  PrivateKey key;
  Certificate cert;
};
Device make_device(const TestCa& ca, KeyType type = KeyType::p256) {
  PrivateKey key = PrivateKey::generate(type);
  Certificate cert = issue(ca.cert, ca.key, make_request(key.public_key(), "pi1", Profile::client)).certificate;
  return {key, cert};
}
Bytes content_bytes() { return Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'c', 'm', 's'}; }
}  // namespace

TEST_CASE("cms_sign/cms_verify: the content, signer, signing time and request id come back", "[cms]") {
  const auto ca = make_test_ca();
  for (KeyType type : {KeyType::p256, KeyType::p384, KeyType::ed25519}) {
    const Device device = make_device(ca, type);
    if (type == KeyType::ed25519 && OPENSSL_VERSION_NUMBER < 0x30200000L) {
      REQUIRE_ERROR(cms_sign(content_bytes(), device.cert, device.key, "0123abcd", fixed_now()), Errc::policy, "P-256");
      continue;
    }
    const Bytes der = cms_sign(content_bytes(), device.cert, device.key, "0123abcd", fixed_now());
    const SignedContent got = cms_verify(der);
    CHECK(got.content == content_bytes());
    CHECK(got.signer == device.cert);
    CHECK(got.signing_time == fixed_now());
    CHECK(got.transaction_id == "0123abcd");
  }
}

TEST_CASE("cms_verify: a changed byte of the content or the signed attributes fails the signature", "[cms]") {
  const auto ca = make_test_ca();
  const Device device = make_device(ca);
  const Bytes der = cms_sign(content_bytes(), device.cert, device.key, "request-1", fixed_now());
  const std::string text(der.begin(), der.end());
  for (const char* part : {"hello cms", "request-1"}) {
    Bytes altered = der;
    const auto at = text.find(part);
    REQUIRE(at != std::string::npos);
    altered[at] ^= 0x01;
    REQUIRE_ERROR(cms_verify(altered), Errc::verify_failed, "does not verify");
  }
}

TEST_CASE("cms_verify: garbage, truncation and trailing bytes are bad_format", "[cms]") {
  const auto ca = make_test_ca();
  const Device device = make_device(ca);
  const Bytes der = cms_sign(content_bytes(), device.cert, device.key, "r", fixed_now());
  REQUIRE_ERROR(cms_verify(Bytes{}), Errc::bad_format);
  REQUIRE_ERROR(cms_verify(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}), Errc::bad_format);
  REQUIRE_ERROR(cms_verify(Bytes(der.begin(), der.begin() + static_cast<long>(der.size() / 2))), Errc::bad_format);
  Bytes longer = der;
  longer.push_back(0);
  REQUIRE_ERROR(cms_verify(longer), Errc::bad_format);
  // A certificate is DER too, but not a CMS message.
  REQUIRE_ERROR(cms_verify(device.cert.to_der()), Errc::bad_format);
}

TEST_CASE("cms_sign: refuses a key that is not the certificate's, and bad request ids", "[cms]") {
  const auto ca = make_test_ca();
  const Device device = make_device(ca);
  const PrivateKey other = PrivateKey::generate(KeyType::p256);
  REQUIRE_ERROR(cms_sign(content_bytes(), device.cert, other, "r", fixed_now()), Errc::mismatch);
  REQUIRE_ERROR(cms_sign(content_bytes(), device.cert, device.key, "", fixed_now()), Errc::invalid_argument);
  REQUIRE_ERROR(cms_sign(content_bytes(), device.cert, device.key, std::string(65, 'a'), fixed_now()), Errc::invalid_argument);
  REQUIRE_ERROR(cms_sign(content_bytes(), device.cert, device.key, "semi;colon", fixed_now()), Errc::invalid_argument);
}
