// The per-certificate post-check of pki::Issuer (issued_check.hpp), which replaced X509_check_issued and
// X509_check_purpose: it must accept what the Issuer builds and catch every deliberately broken variant,
// including everything OpenSSL's two checks caught.
#include "helpers.hpp"

#include "issued_check.hpp"
#include "ossl.hpp"

#include <functional>

using namespace pki_test;
using mqttpki::pki::detail::issued_certificate_problem;
using mqttpki::pki::detail::IssuedExpectations;

namespace {

void replace_ext(X509* x, int nid, const char* value) {
  const int at = X509_get_ext_by_NID(x, nid, -1);
  if (at >= 0) X509_EXTENSION_free(X509_delete_ext(x, at));
  if (value == nullptr) return;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, nullptr, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value);
  REQUIRE(ext != nullptr);
  REQUIRE(X509_add_ext(x, ext, -1) == 1);
  X509_EXTENSION_free(ext);
}

void add_raw_ext(X509* x, const char* oid, bool critical, const Bytes& value) {
  ossl::Ptr<ASN1_OBJECT, ASN1_OBJECT_free> obj(OBJ_txt2obj(oid, 1));
  REQUIRE(obj);
  ossl::Ptr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free> data(ASN1_OCTET_STRING_new());
  REQUIRE(ASN1_OCTET_STRING_set(data.get(), value.data(), static_cast<int>(value.size())) == 1);
  X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), critical ? 1 : 0, data.get());
  REQUIRE(ext != nullptr);
  REQUIRE(X509_add_ext(x, ext, -1) == 1);
  X509_EXTENSION_free(ext);
}

struct Mutation {
  const char* what;
  std::function<void(X509*)> apply;
  bool openssl_rejects;  // X509_check_issued or X509_check_purpose (SSL client) refuses it too
};

}  // namespace

TEST_CASE("the issuer's post-check accepts what it issues and catches broken certificates", "[issue][issuer]") {
  TestCa ca = make_test_ca();
  const Issuer issuer(ca.cert, ca.key);
  PrivateKey leaf_key = PrivateKey::generate(KeyType::p256);
  IssueResult good = issuer.issue(make_request(leaf_key.public_key(), "pi1", Profile::client, {"DNS:pi1.local"}));
  X509Ptr ca_x = raw_x509(ca.cert);
  const std::string ca_pem = ca.key.to_pem();
  BioPtr ca_bio(BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())));
  PkeyPtr ca_raw(PEM_read_bio_PrivateKey(ca_bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(ca_raw);
  const ASN1_OCTET_STRING* ca_ski = X509_get0_subject_key_id(ca_x.get());
  REQUIRE(ca_ski != nullptr);
  IssuedExpectations expect;
  expect.ca_subject = X509_get_subject_name(ca_x.get());
  expect.ca_key = ca_raw.get();
  expect.ca_key_id = ca_ski;
  expect.server = false;
  expect.has_sans = true;

  // The good certificate's own bc, keyUsage, extendedKeyUsage and AKI as IssuedExpectations::checked (what
  // the Issuer passes: the same bytes), each passing extension_value_problem.
  X509Ptr good_x = raw_x509(good.certificate);
  IssuedExpectations with_checked = expect;
  {
    std::size_t k = 0;
    for (int nid : {NID_basic_constraints, NID_key_usage, NID_ext_key_usage, NID_authority_key_identifier}) {
      const X509_EXTENSION* ext = X509_get_ext(good_x.get(), X509_get_ext_by_NID(good_x.get(), nid, -1));
      REQUIRE(ext != nullptr);
      CHECK_FALSE(mqttpki::pki::detail::extension_value_problem(ext, expect));
      with_checked.checked[k++] = ext;
    }
  }
  {
    X509Ptr x = raw_x509(good.certificate);
    CHECK_FALSE(issued_certificate_problem(x.get(), expect));
    CHECK_FALSE(issued_certificate_problem(x.get(), with_checked));
    CHECK(X509_check_issued(ca_x.get(), x.get()) == X509_V_OK);
    CHECK(X509_check_purpose(x.get(), X509_PURPOSE_SSL_CLIENT, 0) == 1);
    IssuedExpectations as_server = expect;
    as_server.server = true;
    CHECK(issued_certificate_problem(x.get(), as_server));  // clientAuth only
    IssuedExpectations without_sans = expect;
    without_sans.has_sans = false;
    CHECK(issued_certificate_problem(x.get(), without_sans));
  }

  PkeyPtr rsa = raw_rsa(2048);
  const std::vector<Mutation> mutations = {
      {"no extendedKeyUsage", [](X509* x) { replace_ext(x, NID_ext_key_usage, nullptr); }, false},
      {"serverAuth instead of clientAuth", [](X509* x) { replace_ext(x, NID_ext_key_usage, "serverAuth"); }, true},
      {"CA:TRUE", [](X509* x) { replace_ext(x, NID_basic_constraints, "critical,CA:TRUE"); }, false},
      {"basicConstraints not critical", [](X509* x) { replace_ext(x, NID_basic_constraints, "CA:FALSE"); }, false},
      {"no basicConstraints", [](X509* x) { replace_ext(x, NID_basic_constraints, nullptr); }, false},
      {"keyUsage keyCertSign only", [](X509* x) { replace_ext(x, NID_key_usage, "critical,keyCertSign"); }, true},
      {"keyUsage with keyCertSign", [](X509* x) { replace_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign"); },
       false},
      {"no keyUsage", [](X509* x) { replace_ext(x, NID_key_usage, nullptr); }, false},
      {"another issuer name",
       [](X509* x) {
         ossl::X509NamePtr n(X509_NAME_new());
         X509_NAME_add_entry_by_txt(n.get(), "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Other CA"), -1,
                                    -1, 0);
         REQUIRE(X509_set_issuer_name(x, n.get()) == 1);
       },
       true},
      {"authorityKeyIdentifier of another key",
       [](X509* x) { replace_ext(x, NID_authority_key_identifier, nullptr);
                     add_raw_ext(x, "2.5.29.35", false, {0x30, 0x06, 0x80, 0x04, 0x01, 0x02, 0x03, 0x04}); },
       true},
      {"no authorityKeyIdentifier", [](X509* x) { replace_ext(x, NID_authority_key_identifier, nullptr); }, false},
      {"subjectKeyIdentifier of another key",
       [](X509* x) { replace_ext(x, NID_subject_key_identifier, "01:02:03:04"); }, false},
      {"a second extendedKeyUsage", [](X509* x) {
         X509V3_CTX ctx;
         X509V3_set_ctx_nodb(&ctx);
         X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, NID_ext_key_usage, "clientAuth");
         REQUIRE(X509_add_ext(x, ext, -1) == 1);
         X509_EXTENSION_free(ext);
       }, false},
      {"an unknown critical extension", [](X509* x) { add_raw_ext(x, "1.3.6.1.4.1.99999.1", true, {0x05, 0x00}); }, false},
      {"an unknown extension", [](X509* x) { add_raw_ext(x, "1.3.6.1.4.1.99999.1", false, {0x05, 0x00}); }, false},
      {"an undecodable subjectAltName",
       [](X509* x) { replace_ext(x, NID_subject_alt_name, nullptr); add_raw_ext(x, "2.5.29.17", false, {0x30, 0x05, 0x82}); },
       true},
      {"no subjectAltName", [](X509* x) { replace_ext(x, NID_subject_alt_name, nullptr); }, false},
      {"version 1", [](X509* x) { REQUIRE(X509_set_version(x, X509_VERSION_1) == 1); }, false},
      {"signed with an RSA key", [&](X509* x) { REQUIRE(X509_sign(x, rsa.get(), EVP_sha256()) > 0); }, true},
  };
  for (const auto& m : mutations) {
    INFO(m.what);
    X509Ptr x = raw_x509(good.certificate);
    m.apply(x.get());
    if (std::string(m.what) != "signed with an RSA key") {
      REQUIRE(X509_sign(x.get(), ca_raw.get(), EVP_sha256()) > 0);  // only the change differs
    }
    CHECK(issued_certificate_problem(x.get(), expect));
    // Extensions already checked are skipped only when byte for byte the same: the same verdict.
    CHECK(issued_certificate_problem(x.get(), with_checked) == issued_certificate_problem(x.get(), expect));
    if (m.openssl_rejects) {
      CHECK((X509_check_issued(ca_x.get(), x.get()) != X509_V_OK ||
             X509_check_purpose(x.get(), X509_PURPOSE_SSL_CLIENT, 0) != 1));
    }
  }
}

TEST_CASE("the issuer's post-check: server profile and RSA leaves", "[issue][issuer]") {
  TestCa ca = make_test_ca();
  const Issuer issuer(ca.cert, ca.key);
  PkeyPtr rsa = raw_rsa(2048);
  IssueResult server = issuer.issue(
      make_request(PublicKey::load(public_pem(rsa.get())), "mqtt", Profile::server, {"DNS:mqtt.local", "IP:192.0.2.1"}));
  X509Ptr x = raw_x509(server.certificate);
  X509Ptr ca_x = raw_x509(ca.cert);
  CHECK(X509_check_issued(ca_x.get(), x.get()) == X509_V_OK);
  CHECK(X509_check_purpose(x.get(), X509_PURPOSE_SSL_SERVER, 0) == 1);
  CHECK(verify_chain({ca.cert}, server.certificate, Purpose::server, fixed_now(), "mqtt.local").ok);
}

TEST_CASE("the issuer's post-check accepts certificates from RSA, P-384 and Ed25519 CAs", "[issue][issuer]") {
  std::vector<TestCa> cas;
  {
    CaOptions o;
    o.subject = Name::build("RSA CA", "Home");
    o.now = fixed_now();
    PrivateKey rsa = to_private(raw_rsa(2048).get());
    cas.push_back({rsa, make_ca(rsa, o)});
  }
  cas.push_back(make_test_ca(KeyType::p384));
  cas.push_back(make_test_ca(KeyType::ed25519));
  for (const auto& ca : cas) {
    INFO(ca.cert.signature_algorithm());
    const Issuer issuer(ca.cert, ca.key);
    IssueResult r = issuer.issue(
        make_request(PrivateKey::generate(KeyType::p256).public_key(), "pi1", Profile::client, {"DNS:pi1.local"}));
    CHECK(verify_chain({ca.cert}, r.certificate, Purpose::client, fixed_now()).ok);
  }
}

TEST_CASE("the issuer's post-check: extension_value_problem refuses wrong values", "[issue][issuer]") {
  TestCa ca = make_test_ca();
  X509Ptr ca_x = raw_x509(ca.cert);
  IssuedExpectations expect;
  expect.ca_key_id = X509_get0_subject_key_id(ca_x.get());
  expect.server = false;
  auto conf = [](int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value);
    REQUIRE(ext != nullptr);
    return ossl::X509ExtensionPtr(ext);
  };
  CHECK_FALSE(mqttpki::pki::detail::extension_value_problem(conf(NID_basic_constraints, "critical,CA:FALSE").get(), expect));
  CHECK(mqttpki::pki::detail::extension_value_problem(conf(NID_basic_constraints, "critical,CA:TRUE").get(), expect));
  CHECK_FALSE(mqttpki::pki::detail::extension_value_problem(conf(NID_key_usage, "critical,digitalSignature").get(), expect));
  CHECK(mqttpki::pki::detail::extension_value_problem(conf(NID_key_usage, "critical,digitalSignature,keyCertSign").get(), expect));
  CHECK(mqttpki::pki::detail::extension_value_problem(conf(NID_key_usage, "critical,keyEncipherment").get(), expect));
  CHECK_FALSE(mqttpki::pki::detail::extension_value_problem(conf(NID_ext_key_usage, "clientAuth").get(), expect));
  CHECK(mqttpki::pki::detail::extension_value_problem(conf(NID_ext_key_usage, "serverAuth").get(), expect));
  IssuedExpectations server = expect;
  server.server = true;
  CHECK_FALSE(mqttpki::pki::detail::extension_value_problem(conf(NID_ext_key_usage, "serverAuth").get(), server));
  CHECK(mqttpki::pki::detail::extension_value_problem(conf(NID_ext_key_usage, "clientAuth").get(), server));
  CHECK(mqttpki::pki::detail::extension_value_problem(conf(NID_subject_key_identifier, "01:02").get(), expect));
  CHECK(mqttpki::pki::detail::extension_value_problem(conf(NID_netscape_comment, "hello").get(), expect));
}
