#include "helpers.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

using namespace pki_test;

namespace {

std::vector<std::string> names_of(const Certificate& c) { return c.extension_names(); }

// A CA as `openssl req -x509 -new` writes it with OpenSSL 3's default config: basicConstraints
// critical CA:TRUE, SKI, AKI, but no keyUsage (not a conforming CA under X509_V_FLAG_X509_STRICT).
TestCa openssl_style_ca(TimePoint now) {
  auto raw = raw_ec("P-256");
  X509Ptr x(X509_new());
  X509_set_version(x.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 4242);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Seed CA"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(std::chrono::system_clock::to_time_t(now - 1h)));
  ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(std::chrono::system_clock::to_time_t(now + 24h * 365)));
  X509_set_pubkey(x.get(), raw.get());
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_authority_key_identifier, "keyid:always"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value);
    REQUIRE(ext != nullptr);
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  REQUIRE(X509_sign(x.get(), raw.get(), EVP_sha256()) > 0);
  return {to_private(raw.get()), to_certificate(x.get())};
}

}  // namespace

TEST_CASE("make_ca: extensions field by field", "[ca]") {
  auto key = PrivateKey::generate(KeyType::p256);
  CaOptions o;
  o.subject = Name::build("Home MQTT CA", "Home", "DE");
  o.days = 3650;
  o.now = fixed_now();
  Certificate ca = make_ca(key, o);
  CHECK(ca.version() == 3);
  CHECK(ca.subject() == o.subject);
  CHECK(ca.issuer() == o.subject);
  CHECK(ca.subject().der() == ca.issuer().der());
  CHECK(ca.is_self_signed());
  CHECK(key.matches(ca));
  CHECK(ca.not_before() == fixed_now() - 5min);
  CHECK(ca.not_after() == fixed_now() + std::chrono::hours(24 * 3650));
  CHECK(ca.signature_algorithm() == "ecdsa-with-SHA256");
  CHECK(names_of(ca) == std::vector<std::string>{"basicConstraints", "keyUsage", "subjectKeyIdentifier",
                                                 "authorityKeyIdentifier"});
  auto bc = ca.basic_constraints();
  REQUIRE(bc);
  CHECK(bc->ca);
  CHECK(bc->critical);
  CHECK(bc->pathlen == 0);
  CHECK(ca.key_usage() == std::vector<std::string>{"keyCertSign", "cRLSign"});
  CHECK(ca.key_usage_critical());
  CHECK(ca.extended_key_usage().empty());
  REQUIRE(ca.subject_key_id_hex());
  CHECK(ca.subject_key_id_hex()->size() == 59);  // SHA-1, 20 bytes
  CHECK(ca.authority_key_id_hex() == ca.subject_key_id_hex());
  CHECK(ca.sans().empty());
  std::string serial = ca.serial_hex();
  CHECK(serial.size() == 40);
  CHECK(std::stoi(serial.substr(0, 2), nullptr, 16) <= 0x7F);
}

TEST_CASE("make_ca: pathlen, digests, serial sources, validation", "[ca]") {
  CaOptions o;
  o.subject = Name::build("CA");
  o.now = fixed_now();
  o.pathlen = std::nullopt;
  CHECK_FALSE(make_ca(PrivateKey::generate(KeyType::p256), o).basic_constraints()->pathlen);
  o.pathlen = 2;
  CHECK(make_ca(PrivateKey::generate(KeyType::p256), o).basic_constraints()->pathlen == 2);

  CHECK(make_ca(PrivateKey::generate(KeyType::p384), o).signature_algorithm() == "ecdsa-with-SHA384");
  CHECK(make_ca(PrivateKey::generate(KeyType::ed25519), o).signature_algorithm() == "ED25519");
  CHECK(make_ca(PrivateKey::load(private_pem(raw_rsa(2048).get())), o).signature_algorithm() ==
        "sha256WithRSAEncryption");

  o.serial = "0a:bc";
  CHECK(make_ca(PrivateKey::generate(KeyType::p256), o).serial_hex() == "0ABC");
  o.serial.reset();
  o.random = [](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), std::uint8_t{0xAB}); };
  auto c = make_ca(PrivateKey::generate(KeyType::p256), o);
  std::string ab;
  for (int i = 0; i < 19; ++i) ab += "AB";
  CHECK(c.serial_hex() == "2B" + ab);  // 0xAB with the top bit cleared

  CaOptions bad = o;
  bad.random = {};
  bad.days = 0;
  REQUIRE_ERROR(make_ca(PrivateKey::generate(KeyType::p256), bad), Errc::invalid_argument, "days");
  bad.days = 36501;
  REQUIRE_ERROR(make_ca(PrivateKey::generate(KeyType::p256), bad), Errc::invalid_argument, "days");
  bad.days = 10;
  bad.subject = Name();
  REQUIRE_ERROR(make_ca(PrivateKey::generate(KeyType::p256), bad), Errc::invalid_argument, "CN");
  bad.subject = Name::build("CA");
  bad.serial = "zz";
  REQUIRE_ERROR(make_ca(PrivateKey::generate(KeyType::p256), bad), Errc::invalid_argument, "serial");
}

TEST_CASE("issue a server certificate: every field", "[issue]") {
  auto ca = make_test_ca();
  auto key = PrivateKey::generate(KeyType::p256);
  IssueResult r = issue(ca.cert, ca.key,
                        make_request(key.public_key(), "mqtt", Profile::server,
                                     {"DNS:mqtt.example.com", "IP:203.0.113.5", "IP:::1", "DNS:*.mqtt.example.com"}, 825));
  const Certificate& c = r.certificate;
  CHECK(r.warnings.empty());
  CHECK(c.version() == 3);
  CHECK(c.subject().to_string() == "CN=mqtt,O=Home");
  CHECK(c.issuer().der() == ca.cert.subject().der());
  CHECK(c.public_key() == key.public_key());
  CHECK(c.not_before() == fixed_now() - 5min);  // backdated for Pis without an RTC
  CHECK(c.not_after() == fixed_now() + std::chrono::hours(24 * 825));
  CHECK(c.signature_algorithm() == "ecdsa-with-SHA256");
  CHECK(names_of(c) == std::vector<std::string>{"basicConstraints", "keyUsage", "extendedKeyUsage",
                                                "subjectKeyIdentifier", "authorityKeyIdentifier", "subjectAltName"});
  auto bc = c.basic_constraints();
  REQUIRE(bc);
  CHECK_FALSE(bc->ca);
  CHECK(bc->critical);
  CHECK_FALSE(bc->pathlen);
  CHECK(c.key_usage() == std::vector<std::string>{"digitalSignature"});
  CHECK(c.key_usage_critical());
  CHECK(c.extended_key_usage() == std::vector<std::string>{"serverAuth"});
  REQUIRE(c.subject_key_id_hex());
  CHECK(c.subject_key_id_hex() != ca.cert.subject_key_id_hex());
  CHECK(c.authority_key_id_hex() == ca.cert.subject_key_id_hex());
  CHECK(c.sans() == std::vector<GeneralName>{parse_san("DNS:mqtt.example.com"), parse_san("IP:203.0.113.5"),
                                             parse_san("IP:::1"), parse_san("DNS:*.mqtt.example.com")});
  CHECK(c.serial_hex().size() == 40);
  CHECK_FALSE(c.is_self_signed());
}

TEST_CASE("issue a client certificate", "[issue]") {
  auto ca = make_test_ca();
  auto key = PrivateKey::generate(KeyType::p256);
  IssueResult r = issue(ca.cert, ca.key, make_request(key.public_key(), "pi1", Profile::client));
  CHECK(r.certificate.extended_key_usage() == std::vector<std::string>{"clientAuth"});
  CHECK(r.certificate.key_usage() == std::vector<std::string>{"digitalSignature"});
  CHECK(r.certificate.sans().empty());
  auto names = names_of(r.certificate);
  CHECK(std::find(names.begin(), names.end(), "subjectAltName") == names.end());
  CHECK(verify_chain({ca.cert}, r.certificate, Purpose::client, fixed_now()).ok);
}

TEST_CASE("leaf key usage by key type; digest by CA key", "[issue]") {
  auto ca = make_test_ca();
  auto rsa = PrivateKey::load(private_pem(raw_rsa(2048).get()));
  auto r = issue(ca.cert, ca.key, make_request(rsa.public_key(), "rsa", Profile::server, {"DNS:rsa.example"}));
  CHECK(r.certificate.key_usage() == std::vector<std::string>{"digitalSignature", "keyEncipherment"});
  CHECK(r.certificate.key_type_name() == "RSA 2048");
  auto ed = PrivateKey::generate(KeyType::ed25519);
  auto r2 = issue(ca.cert, ca.key, make_request(ed.public_key(), "ed", Profile::client));
  CHECK(r2.certificate.key_usage() == std::vector<std::string>{"digitalSignature"});
  CHECK(r2.certificate.key_type_name() == "Ed25519");

  auto ca384 = make_test_ca(KeyType::p384);
  auto r3 = issue(ca384.cert, ca384.key, make_request(PrivateKey::generate(KeyType::p256).public_key(), "x",
                                                      Profile::client));
  CHECK(r3.certificate.signature_algorithm() == "ecdsa-with-SHA384");
  auto caed = make_test_ca(KeyType::ed25519);
  auto r4 = issue(caed.cert, caed.key, make_request(PrivateKey::generate(KeyType::p256).public_key(), "x",
                                                    Profile::server, {"DNS:x.example"}));
  CHECK(r4.certificate.signature_algorithm() == "ED25519");
}

TEST_CASE("serials: random, distinct, or as given", "[issue][serial]") {
  auto ca = make_test_ca();
  auto key = PrivateKey::generate(KeyType::p256);
  std::set<std::string> serials;
  for (int i = 0; i < 20; ++i) {
    auto c = issue(ca.cert, ca.key, make_request(key.public_key(), "pi", Profile::client)).certificate;
    std::string s = c.serial_hex();
    CHECK(s.size() == 40);
    CHECK(std::stoi(s.substr(0, 2), nullptr, 16) >= 1);
    CHECK(std::stoi(s.substr(0, 2), nullptr, 16) <= 0x7F);
    serials.insert(s);
  }
  CHECK(serials.size() == 20);
  CHECK(serials.count(ca.cert.serial_hex()) == 0);

  auto req = make_request(key.public_key(), "pi", Profile::client);
  req.serial = "01:02:03";
  CHECK(issue(ca.cert, ca.key, req).certificate.serial_hex() == "010203");
  req.serial.reset();
  int calls = 0;
  req.random = [&calls](std::span<std::uint8_t> out) {
    ++calls;
    std::fill(out.begin(), out.end(), std::uint8_t{0x11});
  };
  CHECK(issue(ca.cert, ca.key, req).certificate.serial_hex() == [] {
    std::string s;
    for (int i = 0; i < 20; ++i) s += "11";
    return s;
  }());
  CHECK(calls == 1);

  // The random serial goes into the certificate as bytes (no hex round trip): the same serial as
  // random_serial() formats from the same bytes, for the edge cases of the top octet too.
  for (std::uint8_t first : {std::uint8_t{0x00}, std::uint8_t{0x01}, std::uint8_t{0x7F}, std::uint8_t{0x80},
                             std::uint8_t{0x81}, std::uint8_t{0xFF}}) {
    auto source = [first](std::span<std::uint8_t> out) {
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(i == 0 ? first : 0x30 + 7 * i);
    };
    req.random = source;
    Certificate c = issue(ca.cert, ca.key, req).certificate;
    CAPTURE(static_cast<int>(first));
    CHECK(c.serial_hex() == random_serial(source));
    CHECK(c.serial_hex().size() == 40);
    CaOptions o;
    o.subject = Name::build("Serial CA");
    o.random = source;
    CHECK(make_ca(PrivateKey::generate(KeyType::p256), o).serial_hex() == random_serial(source));
  }
}

TEST_CASE("leaf validity is capped at the CA's notAfter, with a warning", "[issue][capping]") {
  auto ca = make_test_ca(KeyType::p256, 30);
  auto key = PrivateKey::generate(KeyType::p256);
  IssueResult r = issue(ca.cert, ca.key, make_request(key.public_key(), "pi1", Profile::client, {}, 365));
  CHECK(r.certificate.not_after() == ca.cert.not_after());
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].find("capped at the CA certificate's expiry on 2026-02-14") != std::string::npos);
  CHECK(r.warnings[0].find("30 days instead of 365") != std::string::npos);
  CHECK(r.warnings[0].find("mqttpki renew --ca") != std::string::npos);
  // Exactly up to the CA's end: no warning.
  IssueResult fits = issue(ca.cert, ca.key, make_request(key.public_key(), "pi1", Profile::client, {}, 29));
  CHECK(fits.warnings.empty());
}

TEST_CASE("issue refuses with clear errors", "[issue][errors]") {
  auto ca = make_test_ca();
  auto key = PrivateKey::generate(KeyType::p256);
  auto good = make_request(key.public_key(), "pi1", Profile::server, {"DNS:pi1.example"});

  SECTION("server without SAN") {
    auto r = make_request(key.public_key(), "mqtt", Profile::server);
    REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::policy, "--san DNS:mqtt.example.com --san IP:203.0.113.5");
  }
  SECTION("expired CA") {
    auto r = good;
    r.now = ca.cert.not_after() + 1s;
    REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::expired,
                  "CA certificate ca.crt expired on 2036-01-13; run `mqttpki renew --ca`");
    r.ca_label = "/etc/pki/ca.pem";
    REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::expired, "CA certificate /etc/pki/ca.pem expired");
  }
  SECTION("CA not yet valid") {
    auto r = good;
    r.now = fixed_now() - 1h;
    REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::expired, "not valid until");
  }
  SECTION("CA key does not match") {
    REQUIRE_ERROR(issue(ca.cert, PrivateKey::generate(KeyType::p256), good), Errc::mismatch, "does not match");
  }
  SECTION("a leaf is not a CA") {
    auto leaf = issue(ca.cert, ca.key, good).certificate;
    auto r = make_request(PrivateKey::generate(KeyType::p256).public_key(), "x", Profile::client);
    REQUIRE_ERROR(issue(leaf, key, r), Errc::policy, "not a CA");
  }
  SECTION("weak leaf keys") {
    auto r = good;
    r.public_key = PublicKey::load(public_pem(raw_rsa(1024).get()));
    REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::policy, "RSA 1024");
    r.public_key = PublicKey::load(public_pem(raw_ec("P-224").get()));
    REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::policy, "secp224r1");
    r.public_key = PublicKey();
    REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::invalid_argument);
  }
  SECTION("subject") {
    auto r = good;
    r.subject = ca.cert.subject();
    REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::policy, "CA's own subject");
    r.subject = Name();
    REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::policy, "CN");
  }
  SECTION("days") {
    auto r = good;
    r.days = 0;
    REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::invalid_argument, "days");
  }
  SECTION("SANs built by hand are validated as --san is") {
    auto r = good;
    r.sans = {GeneralName{GeneralName::Type::dns, "bad_name"}};
    REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::invalid_argument, "invalid SAN");
    r.sans = {GeneralName{GeneralName::Type::other, "othername:<unsupported>"}};
    REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::policy, "not a type mqttpki issues");
  }
  SECTION("a CA that strict X.509 rejects") {
    auto seed = openssl_style_ca(fixed_now());
    auto r = make_request(key.public_key(), "pi1", Profile::client);
    REQUIRE_ERROR(issue(seed.cert, seed.key, r), Errc::policy, "has no keyUsage extension; run `mqttpki renew --ca`");
  }
}

TEST_CASE("issue from a CSR", "[issue][csr]") {
  auto ca = make_test_ca();
  auto key = PrivateKey::generate(KeyType::p256);
  Csr csr = Csr::create(key, Name::build("pi1", "Home"), {parse_san("DNS:pi1.local")});
  IssueRequest req = from_csr(csr);
  CHECK(req.ignored_csr_extensions.empty());
  req.now = fixed_now();
  req.profile = Profile::server;
  IssueResult r = issue(ca.cert, ca.key, req);
  CHECK(r.warnings.empty());
  CHECK(r.certificate.subject().to_string() == "CN=pi1,O=Home");
  CHECK(r.certificate.sans() == std::vector<GeneralName>{parse_san("DNS:pi1.local")});
  CHECK(key.matches(r.certificate));
  CHECK(verify_chain({ca.cert}, r.certificate, Purpose::server, fixed_now(), "pi1.local").ok);
}

TEST_CASE("issue from a CSR: the subject as the CSR encodes it, also after the CSR is gone", "[issue][csr]") {
  auto ca = make_test_ca();
  auto key = PrivateKey::generate(KeyType::p256);
  // Unusual but valid names: several RDNs, a multi-valued RDN, a PrintableString, UTF-8, case and spaces
  // that X.509 comparison folds (the CA's own subject differently spelt is still refused).
  const char* subjects[] = {"/CN=pi1/O=Home", "/C=DE/O=Home+OU=Lab/CN=pi2", "/CN=Gr\\C3\\BC\\C3\\9Fe",
                            "/O=HOME/CN=  Test   CA"};
  for (const char* text : subjects) {
    CAPTURE(text);
    X509_NAME* raw = X509_NAME_new();
    REQUIRE(raw != nullptr);
    // Parse "/K=V/K=V+K=V" by hand, with UTF-8 strings as `openssl req -utf8 -subj` makes them.
    std::string t = text;
    std::size_t pos = 1;
    int set = -1;
    bool multi = false;
    while (pos <= t.size()) {
      std::size_t end = t.find_first_of("/+", pos);
      if (end == std::string::npos) end = t.size();
      std::string item = t.substr(pos, end - pos);
      std::size_t eq = item.find('=');
      REQUIRE(eq != std::string::npos);
      std::string value;
      for (std::size_t i = eq + 1; i < item.size(); ++i) {
        if (item[i] == '\\' && i + 2 < item.size()) {
          value += static_cast<char>(std::stoi(item.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          value += item[i];
        }
      }
      REQUIRE(X509_NAME_add_entry_by_txt(raw, item.substr(0, eq).c_str(), MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                         multi ? set : 0) == 1);
      multi = end < t.size() && t[end] == '+';
      set = multi ? -1 : 0;
      pos = end + 1;
    }
    unsigned char* der = nullptr;
    const int len = i2d_X509_NAME(raw, &der);
    X509_NAME_free(raw);
    REQUIRE(len > 0);
    const Name subject = Name::from_der(ByteView(der, static_cast<std::size_t>(len)));
    OPENSSL_free(der);

    IssueRequest req;
    {
      Csr csr = Csr::create(key, subject);
      Csr loaded = Csr::load(as_bytes(csr.to_pem()));
      req = from_csr(loaded);
    }  // the CSR objects are gone; the request's Name keeps what it needs
    req.now = fixed_now();
    CHECK(req.subject.der() == subject.der());
    CHECK(req.subject == subject);
    CHECK(req.subject.to_string() == subject.to_string());
    const bool is_ca_subject = std::string(text) == "/O=HOME/CN=  Test   CA";
    if (is_ca_subject) {
      require_error([&] { (void)issue(ca.cert, ca.key, req); }, Errc::policy, "the CA's own subject");
      continue;
    }
    IssueResult r = issue(ca.cert, ca.key, req);
    CHECK(r.certificate.subject().der() == subject.der());
    CHECK(verify_chain({ca.cert}, r.certificate, Purpose::client, fixed_now()).ok);
    // A copy of the request's Name, used after the request is gone, still issues the same.
    Name copy = req.subject;
    req = IssueRequest{};
    IssueRequest again = make_request(key.public_key(), "unused", Profile::client);
    again.subject = copy;
    CHECK(issue(ca.cert, ca.key, again).certificate.subject().der() == subject.der());
  }
}

TEST_CASE("renew_ca keeps key, subject and SKI; old leaves verify under the new CA", "[ca][renew]") {
  auto ca = make_test_ca(KeyType::p256, 365);
  auto key = PrivateKey::generate(KeyType::p256);
  auto leaf = issue(ca.cert, ca.key, make_request(key.public_key(), "mqtt", Profile::server, {"DNS:mqtt.example"}))
                  .certificate;
  TimePoint renew_time = fixed_now() + std::chrono::hours(24 * 300);  // before the old CA expires
  RenewCaOptions o;
  o.days = 3650;
  o.now = renew_time;
  Certificate renewed = renew_ca(ca.key, ca.cert, o);
  CHECK(renewed.subject().der() == ca.cert.subject().der());
  CHECK(renewed.subject_key_id_hex() == ca.cert.subject_key_id_hex());
  CHECK(renewed.public_key() == ca.cert.public_key());
  CHECK(renewed.serial_hex() != ca.cert.serial_hex());
  CHECK(renewed.not_before() == renew_time - 5min);
  CHECK(renewed.not_after() == renew_time + std::chrono::hours(24 * 3650));
  CHECK(renewed.basic_constraints()->pathlen == 0);
  CHECK(renewed.key_usage() == std::vector<std::string>{"keyCertSign", "cRLSign"});
  // The old leaf chains to the renewed CA alone (clients that only got the new ca.crt keep working).
  TimePoint check_time = fixed_now() + std::chrono::hours(24 * 320);
  CHECK(verify_chain({renewed}, leaf, Purpose::server, check_time, "mqtt.example").ok);
  // Renewing after the old CA expired works too, and issuing resumes under the new certificate.
  TimePoint later = fixed_now() + std::chrono::hours(24 * 400);
  o.now = later;
  Certificate late = renew_ca(ca.key, ca.cert, o);
  auto r = make_request(key.public_key(), "pi2", Profile::client, {}, 365, later);
  CHECK_NOTHROW(issue(late, ca.key, r));
  REQUIRE_ERROR(issue(ca.cert, ca.key, r), Errc::expired);

  REQUIRE_ERROR(renew_ca(PrivateKey::generate(KeyType::p256), ca.cert, o), Errc::mismatch);
  REQUIRE_ERROR(renew_ca(key, leaf, o), Errc::policy, "not a CA");
}

TEST_CASE("renew_ca turns a CA made with `openssl req -x509` into a strict-conforming one", "[ca][renew]") {
  auto seed = openssl_style_ca(fixed_now());
  CHECK(seed.cert.key_usage().empty());
  RenewCaOptions o;
  o.now = fixed_now();
  Certificate renewed = renew_ca(seed.key, seed.cert, o);
  CHECK(renewed.subject_key_id_hex() == seed.cert.subject_key_id_hex());
  CHECK(renewed.key_usage() == std::vector<std::string>{"keyCertSign", "cRLSign"});
  CHECK_FALSE(renewed.basic_constraints()->pathlen);  // the seed CA had no limit; kept
  auto key = PrivateKey::generate(KeyType::p256);
  CHECK_NOTHROW(issue(renewed, seed.key, make_request(key.public_key(), "pi1", Profile::client)));
}

TEST_CASE("profiles parse and print", "[issue]") {
  CHECK(parse_profile("server") == Profile::server);
  CHECK(parse_profile("client") == Profile::client);
  CHECK(to_string(Profile::server) == "server");
  REQUIRE_ERROR(parse_profile("both"), Errc::invalid_argument, "server or client");
}

// One interop check with the real openssl CLI; the CLI tests do more.
TEST_CASE("openssl verify -x509_strict accepts issued certificates", "[issue][interop]") {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    WARN("openssl CLI not installed; skipped");
    return;
  }
  auto now = std::chrono::system_clock::now();
  auto ca = make_test_ca(KeyType::p256, 30, now);
  auto key = PrivateKey::generate(KeyType::p256);
  auto server = issue(ca.cert, ca.key,
                      make_request(key.public_key(), "mqtt", Profile::server, {"DNS:mqtt.example.com", "IP:127.0.0.1"},
                                   30, now))
                    .certificate;
  auto client = issue(ca.cert, ca.key, make_request(key.public_key(), "pi1", Profile::client, {}, 30, now)).certificate;
  char dir_template[] = "/tmp/mqttpki-pki-test.XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  std::string dir = dir_template;
  std::ofstream(dir + "/ca.crt") << ca.cert.to_pem();
  std::ofstream(dir + "/server.crt") << server.to_pem();
  std::ofstream(dir + "/client.crt") << client.to_pem();
  auto run = [&](const std::string& args) {
    std::string cmd = "openssl verify -x509_strict -CAfile " + dir + "/ca.crt " + args + " 2>&1";
    std::FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out = read_all(p);
    int rc = pclose(p);
    INFO(cmd << "\n" << out);
    return rc == 0;
  };
  CHECK(run("-purpose sslserver -verify_hostname mqtt.example.com " + dir + "/server.crt"));
  CHECK(run("-purpose sslserver -verify_ip 127.0.0.1 " + dir + "/server.crt"));
  CHECK(run("-purpose sslclient " + dir + "/client.crt"));
  CHECK_FALSE(run("-purpose sslserver " + dir + "/client.crt"));
  CHECK_FALSE(run("-purpose sslserver -verify_hostname other.example.com " + dir + "/server.crt"));
  int rc = std::system(("rm -rf '" + dir + "'").c_str());
  (void)rc;
}

// Issuer::issue checks its output structurally but no longer re-verifies each signature (see ca.hpp), so
// here every combination is verified in full, as a TLS peer would: chain, signature, strict X.509, purpose
// and host.
TEST_CASE("Issuer: every certificate it issues passes full verification", "[issue][issuer]") {
  auto rsa = PrivateKey::load(private_pem(raw_rsa(2048).get()));
  for (KeyType ca_type : {KeyType::p256, KeyType::p384, KeyType::ed25519}) {
    auto ca = make_test_ca(ca_type);
    const Issuer issuer(ca.cert, ca.key);
    const Issuer copy = issuer;  // copies share the prepared CA
    CHECK(copy.ca_certificate() == ca.cert);
    CHECK(copy.ca_label() == "ca.crt");
    std::vector<PublicKey> leaves{PrivateKey::generate(KeyType::p256).public_key(),
                                  PrivateKey::generate(KeyType::p384).public_key(),
                                  PrivateKey::generate(KeyType::ed25519).public_key(), rsa.public_key()};
    for (const auto& leaf : leaves) {
      INFO("CA " << to_string(ca_type) << ", leaf " << leaf.type_name());
      auto client = copy.issue(make_request(leaf, "pi1", Profile::client)).certificate;
      CHECK(client.public_key() == leaf);
      CHECK(client.public_key_der() == leaf.der());
      VerifyResult v = verify_chain({ca.cert}, client, Purpose::client, fixed_now());
      CHECK(v.reason == "ok");
      CHECK_FALSE(verify_chain({ca.cert}, client, Purpose::server, fixed_now()).ok);

      auto server = issuer.issue(make_request(leaf, "mqtt", Profile::server,
                                              {"DNS:mqtt.example", "DNS:*.mqtt.example", "IP:192.0.2.10"}))
                        .certificate;
      CHECK(verify_chain({ca.cert}, server, Purpose::server, fixed_now(), "mqtt.example").reason == "ok");
      CHECK(verify_chain({ca.cert}, server, Purpose::server, fixed_now(), "a.mqtt.example").reason == "ok");
      CHECK(verify_chain({ca.cert}, server, Purpose::server, fixed_now(), "192.0.2.10").reason == "ok");
      CHECK_FALSE(verify_chain({ca.cert}, server, Purpose::server, fixed_now(), "other.example").ok);
      // Under another CA with the same name the signature is what fails.
      auto other = make_test_ca(ca_type);
      CHECK(verify_chain({other.cert}, server, Purpose::server, fixed_now()).error != 0);
    }
  }
}

TEST_CASE("Issuer: one-time CA checks at construction, time checks per request", "[issue][issuer]") {
  auto ca = make_test_ca();
  REQUIRE_ERROR(Issuer(ca.cert, PrivateKey::generate(KeyType::p256), "/etc/ca.pem"), Errc::mismatch,
                "does not match the CA certificate /etc/ca.pem");
  auto key = PrivateKey::generate(KeyType::p256);
  auto leaf = Issuer(ca.cert, ca.key).issue(make_request(key.public_key(), "pi1", Profile::client)).certificate;
  REQUIRE_ERROR(Issuer(leaf, key), Errc::policy, "not a CA");

  const Issuer issuer(ca.cert, ca.key, "/etc/ca.pem");
  IssueRequest late = make_request(key.public_key(), "pi1", Profile::client, {}, 30, ca.cert.not_after() + 1s);
  late.ca_label = "ignored.crt";  // the Issuer's label names the CA
  REQUIRE_ERROR(issuer.issue(late), Errc::expired, "CA certificate /etc/ca.pem expired");
  IssueRequest early = make_request(key.public_key(), "pi1", Profile::client, {}, 30, ca.cert.not_before() - 1s);
  REQUIRE_ERROR(issuer.issue(early), Errc::expired, "not valid until");
  // Issued late in the CA's life: capped, valid at `now`, and still verifying.
  IssueRequest last_day = make_request(key.public_key(), "pi1", Profile::client, {}, 30, ca.cert.not_after() - 24h);
  IssueResult r = issuer.issue(last_day);
  CHECK(r.certificate.not_after() == ca.cert.not_after());
  CHECK(verify_chain({ca.cert}, r.certificate, Purpose::client, last_day.now).ok);
}

TEST_CASE("Issuer: a CA with nameConstraints refuses names outside them", "[issue][issuer]") {
  // A CA certificate by hand: the library's make_ca writes no nameConstraints.
  PkeyPtr raw_key = raw_ec("P-256");
  auto ca_key = to_private(raw_key.get());
  CaOptions o;
  o.subject = Name::build("Constrained CA", "Home");
  o.now = fixed_now();
  X509Ptr x = raw_x509(make_ca(ca_key, o));
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  X509_EXTENSION* nc = X509V3_EXT_nconf_nid(nullptr, &ctx, NID_name_constraints, "critical,permitted;DNS:.home.example");
  REQUIRE(nc != nullptr);
  REQUIRE(X509_add_ext(x.get(), nc, -1) == 1);
  X509_EXTENSION_free(nc);
  REQUIRE(X509_sign(x.get(), raw_key.get(), EVP_sha256()) > 0);
  Certificate ca = to_certificate(x.get());
  const Issuer issuer(ca, ca_key);
  auto key = PrivateKey::generate(KeyType::p256);
  auto inside = issuer.issue(make_request(key.public_key(), "mqtt", Profile::server, {"DNS:mqtt.home.example"}));
  CHECK(verify_chain({ca}, inside.certificate, Purpose::server, fixed_now(), "mqtt.home.example").ok);
  REQUIRE_ERROR(issuer.issue(make_request(key.public_key(), "mqtt", Profile::server, {"DNS:mqtt.elsewhere.example"})),
                Errc::verify_failed, "permitted subtree violation");
}

namespace {

// The DER of the certificate's extension with that NID (the whole Extension: OID, critical, value).
std::vector<unsigned char> extension_der(const Certificate& cert, int nid) {
  X509Ptr owner = raw_x509(cert);
  X509* x = owner.get();
  const int at = X509_get_ext_by_NID(x, nid, -1);
  REQUIRE(at >= 0);
  REQUIRE(X509_get_ext_by_NID(x, nid, at) < 0);  // once
  unsigned char* der = nullptr;
  const int len = i2d_X509_EXTENSION(X509_get_ext(x, at), &der);
  REQUIRE(len > 0);
  std::vector<unsigned char> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// The same extension made independently, from OpenSSL's configuration syntax.
std::vector<unsigned char> conf_extension_der(int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, nullptr, nid, value);
  REQUIRE(ext != nullptr);
  unsigned char* der = nullptr;
  const int len = i2d_X509_EXTENSION(ext, &der);
  X509_EXTENSION_free(ext);
  REQUIRE(len > 0);
  std::vector<unsigned char> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

}  // namespace

TEST_CASE("Issuer: leaf extensions are byte for byte what OpenSSL makes from their configuration", "[issue][issuer]") {
  auto key_of = [](KeyType type) {
    return type == KeyType::rsa ? PrivateKey::load(private_pem(raw_rsa(2048).get())) : PrivateKey::generate(type);
  };
  for (KeyType ca_type : {KeyType::p256, KeyType::p384, KeyType::rsa, KeyType::ed25519}) {
    CaOptions o;
    o.subject = Name::build("Cache CA", "Home");
    o.now = fixed_now();
    PrivateKey ca_key = key_of(ca_type);
    TestCa ca{ca_key, make_ca(ca_key, o)};
    const Issuer issuer(ca.cert, ca.key);
    for (KeyType leaf_type : {KeyType::p256, KeyType::rsa, KeyType::ed25519}) {
      for (Profile profile : {Profile::server, Profile::client}) {
        CAPTURE(static_cast<int>(ca_type), static_cast<int>(leaf_type), to_string(profile));
        auto leaf = key_of(leaf_type);
        // Twice from one Issuer: issuing leaves it unchanged.
        for (int round = 0; round < 2; ++round) {
          Certificate c = issuer.issue(make_request(leaf.public_key(), "dev", profile, {"DNS:dev.example"})).certificate;
          CHECK(extension_der(c, NID_basic_constraints) == conf_extension_der(NID_basic_constraints, "critical,CA:FALSE"));
          CHECK(extension_der(c, NID_key_usage) ==
                conf_extension_der(NID_key_usage, leaf_type == KeyType::rsa
                                                      ? "critical,digitalSignature,keyEncipherment"
                                                      : "critical,digitalSignature"));
          CHECK(extension_der(c, NID_ext_key_usage) ==
                conf_extension_der(NID_ext_key_usage, profile == Profile::server ? "serverAuth" : "clientAuth"));
          // authorityKeyIdentifier: keyid only, the CA's subjectKeyIdentifier.
          AUTHORITY_KEYID* aki = AUTHORITY_KEYID_new();
          REQUIRE(aki != nullptr);
          aki->keyid = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(raw_x509(ca.cert).get()));
          X509_EXTENSION* ext = X509V3_EXT_i2d(NID_authority_key_identifier, 0, aki);
          AUTHORITY_KEYID_free(aki);
          REQUIRE(ext != nullptr);
          unsigned char* der = nullptr;
          const int len = i2d_X509_EXTENSION(ext, &der);
          X509_EXTENSION_free(ext);
          REQUIRE(len > 0);
          CHECK(extension_der(c, NID_authority_key_identifier) == std::vector<unsigned char>(der, der + len));
          OPENSSL_free(der);
          // Order as before: basicConstraints, keyUsage, extendedKeyUsage, SKI, AKI, SAN.
          X509Ptr owner = raw_x509(c);
          X509* x = owner.get();
          REQUIRE(X509_get_ext_count(x) == 6);
          const int order[] = {NID_basic_constraints, NID_key_usage, NID_ext_key_usage, NID_subject_key_identifier,
                               NID_authority_key_identifier, NID_subject_alt_name};
          for (int i = 0; i < 6; ++i) CHECK(OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(x, i))) == order[i]);
        }
      }
    }
  }
}

TEST_CASE("validity times: UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280)", "[issue]") {
  // 2049-12-31T23:58:00Z: notBefore (5 minutes earlier) is UTCTime; notAfter (a year later) GeneralizedTime.
  const TimePoint late = TimePoint(std::chrono::seconds(2524607880));
  auto ca = make_test_ca(KeyType::p256, 3650, late - std::chrono::hours(24));
  auto key = PrivateKey::generate(KeyType::p256);
  Certificate c = issue(ca.cert, ca.key, make_request(key.public_key(), "late", Profile::client, {}, 365, late)).certificate;
  X509Ptr x = raw_x509(c);
  CHECK(ASN1_STRING_type(X509_get0_notBefore(x.get())) == V_ASN1_UTCTIME);
  CHECK(ASN1_STRING_type(X509_get0_notAfter(x.get())) == V_ASN1_GENERALIZEDTIME);
  CHECK(c.not_before() == late - backdate);
  CHECK(c.not_after() == late + std::chrono::days(365));
  const std::string nb(reinterpret_cast<const char*>(ASN1_STRING_get0_data(X509_get0_notBefore(x.get()))));
  const std::string na(reinterpret_cast<const char*>(ASN1_STRING_get0_data(X509_get0_notAfter(x.get()))));
  CHECK(nb == "491231235300Z");
  CHECK(na == "20501231235800Z");
  // The CA's own times follow the same rule.
  X509Ptr cx = raw_x509(ca.cert);
  CHECK(ASN1_STRING_type(X509_get0_notBefore(cx.get())) == V_ASN1_UTCTIME);
  CHECK(ASN1_STRING_type(X509_get0_notAfter(cx.get())) == V_ASN1_GENERALIZEDTIME);
}
