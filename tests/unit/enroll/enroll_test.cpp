// Renewal over MQTT without I/O: the protocol's pieces and the agent's rules, each refusal with its reason.

#include "helpers.hpp"

#include <mqttpki/enroll/policy.hpp>
#include <mqttpki/enroll/protocol.hpp>
#include <mqttpki/pki/cms.hpp>

using namespace pki_test;
using namespace mqttpki::enroll;

namespace {

struct Device {
  PrivateKey key;
  Certificate cert;
};

Device make_device(const TestCa& ca, const std::string& cn = "pi1", std::vector<std::string> sans = {},
                   TimePoint now = fixed_now(), int days = 365) {
  PrivateKey key = PrivateKey::generate(KeyType::p256);
  Certificate cert = issue(ca.cert, ca.key, make_request(key.public_key(), cn, Profile::client, sans, days, now)).certificate;
  return {key, cert};
}

Request renewal_request(const Device& d, TimePoint signed_at = fixed_now(), const PrivateKey* new_key = nullptr) {
  const PrivateKey& key = new_key ? *new_key : d.key;
  return make_request(Csr::create(key, d.cert.subject(), d.cert.sans()), d.cert, d.key, signed_at);
}

std::string reason_of(const std::variant<CheckedRequest, Refusal>& v) {
  const auto* r = std::get_if<Refusal>(&v);
  return r ? r->reason : "";
}

}  // namespace

TEST_CASE("Topics: names under the prefix, and prefixes that would widen a subscription are refused", "[enroll]") {
  const Topics t;
  CHECK(t.request("pi1") == "mqttpki/v1/renew/pi1/request");
  CHECK(t.response("pi1") == "mqttpki/v1/renew/pi1/response");
  CHECK(t.crl() == "mqttpki/v1/crl");
  CHECK(t.request_filter() == "mqttpki/v1/renew/+/request");
  CHECK(t.request_name("mqttpki/v1/renew/pi1/request") == std::optional<std::string>("pi1"));
  CHECK_FALSE(t.request_name("mqttpki/v1/renew/pi1/response"));
  CHECK_FALSE(t.request_name("mqttpki/v1/renew//request"));
  CHECK_FALSE(t.request_name("mqttpki/v1/renew/a/b/request"));
  CHECK_FALSE(t.request_name("other/renew/pi1/request"));
  CHECK(Topics("site/a").request("x") == "site/a/renew/x/request");
  for (const std::string& bad : {std::string(), std::string("/lead"), std::string("trail/"), std::string("a/+/b"),
                                 std::string("a/#"), std::string("x\0y", 3)})
    REQUIRE_ERROR(Topics(bad), Errc::invalid_argument, "prefix");
}

TEST_CASE("Response: encode and decode round trip; anything else is bad_format", "[enroll]") {
  const Response ok{"id1", "-----BEGIN CERTIFICATE-----\n...", ""};
  const Response no{"id2", "", "the signer certificate is revoked"};
  CHECK(decode_response(encode_response(ok)).certificate_pem == ok.certificate_pem);
  CHECK(decode_response(encode_response(no)).error == no.error);
  CHECK(decode_response(encode_response(no)).refused());
  for (const char* bad : {"", "garbage", "[]", R"({"version":2,"request_id":"a","error":"x"})",
                          R"({"version":1,"request_id":"a"})", R"({"version":1,"certificate":"x","error":"y"})",
                          R"({"version":1,"error":7})"})
    REQUIRE_ERROR(decode_response(bad), Errc::bad_format, "not a renewal answer");
}

TEST_CASE("check_request: a renewal and a re-key signed by the current certificate pass", "[enroll]") {
  const auto ca = make_test_ca();
  const Device d = make_device(ca, "pi1", {"DNS:pi1.local"});
  const Request same = renewal_request(d);
  auto v = check_request("pi1", same.payload, ca.cert, Policy{}, fixed_now() + 1min);
  REQUIRE(std::holds_alternative<CheckedRequest>(v));
  const auto& c = std::get<CheckedRequest>(v);
  CHECK(c.name == "pi1");
  CHECK(c.request_id == same.id);
  CHECK(c.signer == d.cert);
  CHECK_FALSE(c.rekey);
  const PrivateKey fresh = PrivateKey::generate(KeyType::p256);
  auto rekey = check_request("pi1", renewal_request(d, fixed_now(), &fresh).payload, ca.cert, Policy{}, fixed_now());
  REQUIRE(std::holds_alternative<CheckedRequest>(rekey));
  CHECK(std::get<CheckedRequest>(rekey).rekey);
}

TEST_CASE("check_request: unauthenticated requests are refused without an answer", "[enroll]") {
  const auto ca = make_test_ca();
  const auto foreign_ca = make_test_ca(KeyType::p256, 3650, fixed_now(), "Test CA");  // same name, other key
  const Device stranger = make_device(foreign_ca);
  const auto foreign = check_request("pi1", renewal_request(stranger).payload, ca.cert, Policy{}, fixed_now());
  REQUIRE(std::holds_alternative<Refusal>(foreign));
  CHECK_FALSE(std::get<Refusal>(foreign).answer);
  CHECK(reason_of(foreign).find("not issued by this CA") != std::string::npos);

  const Bytes garbage{'n', 'o', 'p', 'e'};
  const auto g = check_request("pi1", garbage, ca.cert, Policy{}, fixed_now());
  CHECK_FALSE(std::get<Refusal>(g).answer);
  CHECK(reason_of(g).find("not a signed request") != std::string::npos);

  Policy small;
  small.max_request_bytes = 100;
  const auto big = check_request("pi1", renewal_request(make_device(ca)).payload, ca.cert, small, fixed_now());
  CHECK_FALSE(std::get<Refusal>(big).answer);
  CHECK(reason_of(big).find("oversized") != std::string::npos);
}

TEST_CASE("check_request: expired signer (and grace), stale or future signing time", "[enroll]") {
  const auto ca = make_test_ca();
  const Device d = make_device(ca, "pi1", {}, fixed_now(), 30);
  const auto after_expiry = d.cert.not_after() + 2h;
  auto expired = check_request("pi1", renewal_request(d, after_expiry).payload, ca.cert, Policy{}, after_expiry);
  CHECK(reason_of(expired).find("expired on") != std::string::npos);
  CHECK(std::get<Refusal>(expired).answer);
  Policy graceful;
  graceful.grace = std::chrono::hours(24);
  CHECK(std::holds_alternative<CheckedRequest>(
      check_request("pi1", renewal_request(d, after_expiry).payload, ca.cert, graceful, after_expiry)));

  const Request old = renewal_request(d, fixed_now());
  CHECK(reason_of(check_request("pi1", old.payload, ca.cert, Policy{}, fixed_now() + 25h)).find("stale") !=
        std::string::npos);
  const Request ahead = renewal_request(d, fixed_now() + 10min);
  CHECK(reason_of(check_request("pi1", ahead.payload, ca.cert, Policy{}, fixed_now())).find("future") != std::string::npos);
  CHECK(std::holds_alternative<CheckedRequest>(check_request("pi1", old.payload, ca.cert, Policy{}, fixed_now() + 23h)));
}

TEST_CASE("check_request: a CSR for another subject or other SANs is refused", "[enroll]") {
  const auto ca = make_test_ca();
  const Device d = make_device(ca, "pi1", {"DNS:pi1.local"});
  const auto other_name = make_request(Csr::create(d.key, Name::build("pi2", "Home"), d.cert.sans()), d.cert, d.key, fixed_now());
  CHECK(reason_of(check_request("pi1", other_name.payload, ca.cert, Policy{}, fixed_now())).find("subject") !=
        std::string::npos);
  const auto other_sans =
      make_request(Csr::create(d.key, d.cert.subject(), {parse_san("DNS:evil.example")}), d.cert, d.key, fixed_now());
  CHECK(reason_of(check_request("pi1", other_sans.payload, ca.cert, Policy{}, fixed_now())).find("SANs") !=
        std::string::npos);
  // Content that is not a CSR, signed properly.
  const Bytes not_csr = cms_sign(Bytes{1, 2, 3}, d.cert, d.key, "abc", fixed_now());
  CHECK(reason_of(check_request("pi1", not_csr, ca.cert, Policy{}, fixed_now())).find("not a CSR") != std::string::npos);
}

TEST_CASE("check_signer_record: only NAME's current certificate may ask", "[enroll]") {
  const auto ca = make_test_ca();
  const Device d = make_device(ca);
  const auto checked = std::get<CheckedRequest>(check_request("pi1", renewal_request(d).payload, ca.cert, Policy{}, fixed_now()));
  using S = SignerRecord::Status;
  CHECK_FALSE(check_signer_record(checked, SignerRecord{"pi1", S::valid, ""}));
  CHECK(check_signer_record(checked, std::nullopt)->reason.find("not in the CA's records") != std::string::npos);
  CHECK(check_signer_record(checked, SignerRecord{"pi2", S::valid, ""})->reason.find("pi2's, not pi1's") !=
        std::string::npos);
  CHECK(check_signer_record(checked, SignerRecord{"pi1", S::revoked, ""})->reason.find("revoked") != std::string::npos);
  CHECK(check_signer_record(checked, SignerRecord{"pi1", S::superseded, "AB"})->reason.find("superseded by serial AB") !=
        std::string::npos);
}

TEST_CASE("RateLimiter: per NAME per hour (sliding) and the total rate (token bucket)", "[enroll]") {
  Policy p;
  p.per_name_per_hour = 2;
  p.total_per_second = 2;
  RateLimiter limits(p);
  const auto t = fixed_now();
  CHECK(limits.allow_name("pi1", t));
  CHECK(limits.allow_name("pi1", t + 1min));
  CHECK_FALSE(limits.allow_name("pi1", t + 2min));
  CHECK(limits.allow_name("pi2", t + 2min));
  CHECK(limits.allow_name("pi1", t + 61min));  // the first one left the window
  CHECK(limits.allow_total(t));
  CHECK(limits.allow_total(t));
  CHECK_FALSE(limits.allow_total(t));
  CHECK(limits.allow_total(t + 500ms));
  CHECK_FALSE(limits.allow_total(t + 500ms));
}

TEST_CASE("check_answer: only a certificate of the CA, for the device, with the key asked for, and newer", "[enroll]") {
  const auto ca = make_test_ca();
  const Device d = make_device(ca, "pi1", {"DNS:pi1.local"});
  const auto later = fixed_now() + 24h;
  const auto renew_as = [&](const TestCa& by, const PublicKey& key, const std::string& cn, std::vector<std::string> sans,
                            TimePoint at, int days = 365) {
    return Response{"id", issue(by.cert, by.key, make_request(key, cn, Profile::client, sans, days, at)).certificate.to_pem(), ""};
  };
  const Expectation expected{{ca.cert}, d.cert, d.key.public_key(), later};
  const Certificate good = check_answer(renew_as(ca, d.key.public_key(), "pi1", {"DNS:pi1.local"}, later), expected);
  CHECK(good.not_after() > d.cert.not_after());
  const auto other_ca = make_test_ca();
  REQUIRE_ERROR(check_answer(renew_as(other_ca, d.key.public_key(), "pi1", {"DNS:pi1.local"}, later), expected),
                Errc::verify_failed, "not signed by the CA");
  REQUIRE_ERROR(check_answer(renew_as(ca, PrivateKey::generate(KeyType::p256).public_key(), "pi1", {"DNS:pi1.local"}, later),
                             expected),
                Errc::verify_failed, "another key");
  REQUIRE_ERROR(check_answer(renew_as(ca, d.key.public_key(), "pi1", {"DNS:other"}, later), expected), Errc::verify_failed,
                "SANs");
  REQUIRE_ERROR(check_answer(renew_as(ca, d.key.public_key(), "pi2", {"DNS:pi1.local"}, later), expected),
                Errc::verify_failed, "subject");
  REQUIRE_ERROR(check_answer(renew_as(ca, d.key.public_key(), "pi1", {"DNS:pi1.local"}, later, 30), expected),
                Errc::verify_failed, "no later");
  REQUIRE_ERROR(check_answer(Response{"id", d.cert.to_pem(), ""}, expected), Errc::verify_failed, "no later");
  REQUIRE_ERROR(check_answer(Response{"id", "", "revoked"}, expected), Errc::policy, "revoked");
  REQUIRE_ERROR(check_answer(Response{"id", "garbage", ""}, expected), Errc::bad_format);
}
