#include "helpers.hpp"

using namespace pki_test;

namespace {
struct Pki {
  TestCa ca = make_test_ca();
  PrivateKey key = PrivateKey::generate(KeyType::p256);
  Certificate server = issue(ca.cert, ca.key,
                             make_request(key.public_key(), "mqtt", Profile::server,
                                          {"DNS:mqtt.example.com", "IP:203.0.113.5", "IP:2001:db8::5"}, 90))
                           .certificate;
  Certificate client = issue(ca.cert, ca.key, make_request(key.public_key(), "pi1", Profile::client, {}, 90)).certificate;
};
}  // namespace

TEST_CASE("verify_chain: good chains", "[verify]") {
  Pki p;
  auto r = verify_chain({p.ca.cert}, p.server, Purpose::server, fixed_now());
  CHECK(r.ok);
  CHECK(static_cast<bool>(r));
  CHECK(r.error == 0);
  CHECK(r.reason == "ok");
  CHECK(verify_chain({p.ca.cert}, p.server, Purpose::server, fixed_now(), "mqtt.example.com").ok);
  CHECK(verify_chain({p.ca.cert}, p.server, Purpose::server, fixed_now(), "203.0.113.5").ok);
  CHECK(verify_chain({p.ca.cert}, p.server, Purpose::server, fixed_now(), "2001:db8::5").ok);
  CHECK(verify_chain({p.ca.cert}, p.server, Purpose::any, fixed_now()).ok);
  CHECK(verify_chain({p.ca.cert}, p.client, Purpose::client, fixed_now()).ok);
  CHECK(verify_chain({p.ca.cert}, p.ca.cert, Purpose::any, fixed_now()).ok);
  // Other trusted CAs alongside do not matter.
  CHECK(verify_chain({make_test_ca().cert, p.ca.cert}, p.client, Purpose::client, fixed_now()).ok);
}

TEST_CASE("verify_chain: failures carry OpenSSL's reason", "[verify]") {
  Pki p;
  SECTION("expired leaf") {
    auto r = verify_chain({p.ca.cert}, p.server, Purpose::server, fixed_now() + std::chrono::hours(24 * 91));
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "certificate has expired");
    CHECK(r.error_depth == 0);
    CHECK(r.error_subject == "CN=mqtt,O=Home");
  }
  SECTION("not yet valid") {
    auto r = verify_chain({p.ca.cert}, p.server, Purpose::server, fixed_now() - 1h);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "certificate is not yet valid");
  }
  SECTION("expired CA") {
    auto r = verify_chain({p.ca.cert}, p.ca.cert, Purpose::any, fixed_now() + std::chrono::hours(24 * 3651));
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "certificate has expired");
  }
  SECTION("wrong CA") {
    auto other = make_test_ca();
    auto r = verify_chain({other.cert}, p.server, Purpose::server, fixed_now());
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "unable to get local issuer certificate");
  }
  SECTION("another CA with the same name") {
    auto twin = make_test_ca(KeyType::p256, 3650, fixed_now(), "Test CA");
    auto r = verify_chain({twin.cert}, p.server, Purpose::server, fixed_now());
    CHECK_FALSE(r.ok);
  }
  SECTION("purpose") {
    auto r = verify_chain({p.ca.cert}, p.client, Purpose::server, fixed_now());
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "unsuitable certificate purpose");
    CHECK_FALSE(verify_chain({p.ca.cert}, p.server, Purpose::client, fixed_now()).ok);
  }
  SECTION("host and IP mismatch") {
    auto r = verify_chain({p.ca.cert}, p.server, Purpose::server, fixed_now(), "evil.example.com");
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "hostname mismatch");
    auto r2 = verify_chain({p.ca.cert}, p.server, Purpose::server, fixed_now(), "203.0.113.6");
    CHECK_FALSE(r2.ok);
    CHECK(r2.reason == "IP address mismatch");
    // An IP literal is matched against IP SANs only, never DNS names.
    CHECK_FALSE(verify_chain({p.ca.cert}, p.client, Purpose::client, fixed_now(), "127.0.0.1").ok);
  }
  SECTION("no CA at all") {
    REQUIRE_ERROR(verify_chain({}, p.server, Purpose::server, fixed_now()), Errc::invalid_argument);
  }
}

TEST_CASE("verify_chain with an intermediate from options", "[verify]") {
  // Build a root with pathlen 1, an intermediate CA under it (by hand, since issue() makes leaves only),
  // and check that intermediates in VerifyOptions complete the chain.
  auto root_key = PrivateKey::generate(KeyType::p256);
  CaOptions o;
  o.subject = Name::build("Root");
  o.now = fixed_now();
  o.pathlen = 1;
  Certificate root = make_ca(root_key, o);
  auto inter_key = raw_ec("P-256");
  X509Ptr x(X509_new());
  X509_set_version(x.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 77);
  X509_NAME* n = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Intermediate"), -1, -1, 0);
  X509Ptr root_raw = raw_x509(root);
  X509_set_issuer_name(x.get(), X509_get_subject_name(root_raw.get()));
  ASN1_TIME_set(X509_getm_notBefore(x.get()), std::chrono::system_clock::to_time_t(fixed_now() - 1h));
  ASN1_TIME_set(X509_getm_notAfter(x.get()), std::chrono::system_clock::to_time_t(fixed_now() + 24h * 365));
  X509_set_pubkey(x.get(), inter_key.get());
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, root_raw.get(), x.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value);
    REQUIRE(ext != nullptr);
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  // Sign with the root key through a PEM round trip of the library key.
  std::string pem = root_key.to_pem();
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr root_pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(X509_sign(x.get(), root_pkey.get(), EVP_sha256()) > 0);
  Certificate inter = to_certificate(x.get());
  PrivateKey inter_priv = to_private(inter_key.get());
  auto leaf = issue(inter, inter_priv, make_request(PrivateKey::generate(KeyType::p256).public_key(), "pi",
                                                    Profile::client))
                  .certificate;
  CHECK_FALSE(verify_chain({root}, leaf, Purpose::client, fixed_now()).ok);
  VerifyOptions vo;
  vo.purpose = Purpose::client;
  vo.now = fixed_now();
  vo.intermediates = {inter};
  CHECK(verify_chain({root}, leaf, vo).ok);
}

TEST_CASE("verify_chain with CRLs", "[verify][crl]") {
  Pki p;
  CrlOptions co;
  co.this_update = fixed_now() - 1h;
  co.next_update = fixed_now() + 24h * 7;
  std::string empty_crl = make_crl(p.ca.cert, p.ca.key, co);
  co.revoked.push_back({p.client.serial_hex(), fixed_now() - 30min, RevocationReason::key_compromise});
  co.crl_number = 2;
  std::string crl = make_crl(p.ca.cert, p.ca.key, co);

  VerifyOptions vo;
  vo.purpose = Purpose::client;
  vo.now = fixed_now();
  vo.crls = {Bytes(empty_crl.begin(), empty_crl.end())};
  CHECK(verify_chain({p.ca.cert}, p.client, vo).ok);
  vo.crls = {Bytes(crl.begin(), crl.end())};
  auto r = verify_chain({p.ca.cert}, p.client, vo);
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "certificate revoked");
  vo.purpose = Purpose::server;
  CHECK(verify_chain({p.ca.cert}, p.server, vo).ok);  // not on the list
  vo.crls = {Bytes{'x', 'y'}};
  REQUIRE_ERROR(verify_chain({p.ca.cert}, p.server, vo), Errc::bad_format, "expected a CRL");
}
