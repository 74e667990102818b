// Renewal over MQTT: topics, requests, answers, and the device's check of an answer (protocol.hpp).

#include <mqttpki/enroll/protocol.hpp>

#include <mqttpki/error.hpp>
#include <mqttpki/pki/cms.hpp>
#include <mqttpki/text.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/pki/verify.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace mqttpki::enroll {

namespace {
constexpr int protocol_version = 1;
constexpr std::string_view renew_level = "/renew/";
}  // namespace

Topics::Topics(std::string prefix) : prefix_(std::move(prefix)) {
  const bool bad = prefix_.empty() || prefix_.size() > 200 || prefix_.front() == '/' || prefix_.back() == '/' ||
                   prefix_.find_first_of(std::string_view("+#\0", 3)) != std::string::npos;
  if (bad)
    throw Error(Errc::invalid_argument,
                fmt::format("--prefix '{}': a topic prefix is 1-200 bytes without '+', '#' or a leading or trailing "
                            "'/' (default {})",
                            mqttpki::printable(prefix_), default_prefix));
}

std::string Topics::request(std::string_view name) const { return fmt::format("{}/renew/{}/request", prefix_, name); }
std::string Topics::response(std::string_view name) const { return fmt::format("{}/renew/{}/response", prefix_, name); }
std::string Topics::crl() const { return prefix_ + "/crl"; }
std::string Topics::request_filter() const { return prefix_ + "/renew/+/request"; }

std::optional<std::string> Topics::request_name(std::string_view topic) const {
  constexpr std::string_view tail = "/request";
  const std::string head = prefix_ + std::string(renew_level);
  if (!topic.starts_with(head) || !topic.ends_with(tail) || topic.size() <= head.size() + tail.size())
    return std::nullopt;
  const std::string_view name = topic.substr(head.size(), topic.size() - head.size() - tail.size());
  if (name.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(name);
}

Request make_request(const pki::Csr& csr, const pki::Certificate& current, const pki::PrivateKey& current_key,
                     TimePoint now, const pki::RandomSource& random) {
  Request request;
  request.id = pki::random_hex(16, random);
  request.payload = pki::cms_sign(csr.to_der(), current, current_key, request.id, now);
  return request;
}

std::string encode_response(const Response& response) {
  nlohmann::ordered_json j;
  j["version"] = protocol_version;
  j["request_id"] = response.request_id;
  if (response.refused())
    j["error"] = response.error;
  else
    j["certificate"] = response.certificate_pem;
  return j.dump();
}

Response decode_response(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  const auto bad = [](std::string_view why) { return Error(Errc::bad_format, fmt::format("not a renewal answer ({})", why)); };
  if (!j.is_object()) throw bad("not a JSON object");
  if (!j.contains("version") || j["version"] != protocol_version) throw bad("version is not 1");
  Response r;
  const auto text_field = [&](const char* key, std::string& out) {
    if (!j.contains(key)) return false;
    if (!j[key].is_string()) throw bad(fmt::format("{} is not a string", key));
    out = j[key].get<std::string>();
    return true;
  };
  text_field("request_id", r.request_id);
  const bool has_certificate = text_field("certificate", r.certificate_pem) && !r.certificate_pem.empty();
  const bool has_error = text_field("error", r.error);
  if (has_certificate == has_error) throw bad("it needs a certificate or an error, not both");
  return r;
}

bool same_sans(std::vector<pki::GeneralName> a, std::vector<pki::GeneralName> b) {
  const auto text_order = [](const pki::GeneralName& x, const pki::GeneralName& y) { return x.to_string() < y.to_string(); };
  std::sort(a.begin(), a.end(), text_order);
  std::sort(b.begin(), b.end(), text_order);
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const auto& x, const auto& y) { return x.to_string() == y.to_string(); });
}

pki::Certificate check_answer(const Response& response, const Expectation& expected) {
  if (response.refused()) throw Error(Errc::policy, fmt::format("the CA agent refused: {}", response.error));
  const std::vector<pki::Certificate> chain = pki::Certificate::load_chain(response.certificate_pem);
  const pki::Certificate& cert = chain.front();
  const auto refuse = [](std::string_view why) { return Error(Errc::verify_failed, std::string(why)); };
  const pki::VerifyResult chained = pki::verify_chain(expected.cas, cert, pki::Purpose::any, expected.now);
  if (!chained) throw refuse(fmt::format("the certificate is not signed by the CA ({})", chained.reason));
  if (!(cert.subject() == expected.current.subject())) throw refuse("its subject differs from the current certificate's");
  if (!same_sans(cert.sans(), expected.current.sans())) throw refuse("its SANs differ from the current certificate's");
  if (!(cert.public_key() == expected.key)) throw refuse("it carries another key than the one asked for");
  if (cert.extended_key_usage() != expected.current.extended_key_usage())
    throw refuse("its extendedKeyUsage differs from the current certificate's");
  // Later, or as late but another certificate (two renewals within one second).
  if (cert.not_after() < expected.current.not_after() || cert == expected.current)
    throw refuse("it expires no later than the current certificate (an old answer)");
  return cert;
}

}  // namespace mqttpki::enroll
