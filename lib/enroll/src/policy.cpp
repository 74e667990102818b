// The renewal agent's rules (policy.hpp).

#include <mqttpki/enroll/policy.hpp>
#include <mqttpki/enroll/protocol.hpp>

#include <mqttpki/error.hpp>
#include <mqttpki/pki/cms.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/pki/verify.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace mqttpki::enroll {

namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

Refusal unanswered(std::string reason) { return Refusal{std::move(reason), false, {}}; }
Refusal answered(std::string reason) { return Refusal{std::move(reason), true, {}}; }

std::optional<Refusal> check_signer(const pki::Certificate& signer, const pki::Certificate& ca, const Policy& policy,
                                    TimePoint now) {
  if (!(signer.issuer() == ca.subject()) || !pki::signed_by(signer, ca))
    return unanswered(fmt::format("the signer certificate ({}, serial {}) is not issued by this CA",
                                  signer.subject().to_string(), signer.serial_hex()));
  if (now < signer.not_before())
    return answered(fmt::format("the signer certificate (serial {}) is not valid before {}", signer.serial_hex(),
                               pki::format_time(signer.not_before())));
  if (now > signer.not_after() + policy.grace)
    return answered(fmt::format("the signer certificate (serial {}) expired on {}{}", signer.serial_hex(),
                               pki::format_time(signer.not_after()),
                               policy.grace.count() > 0 ? " (beyond the grace period)" : ""));
  return std::nullopt;
}

std::optional<Refusal> check_time(TimePoint signed_at, const Policy& policy, TimePoint now) {
  if (signed_at < now - policy.max_age)
    return answered(fmt::format("stale request: signed {} s ago (at most {} s)",
                               duration_cast<seconds>(now - signed_at).count(), policy.max_age.count()));
  if (signed_at > now + policy.max_skew)
    return answered(fmt::format("the request is signed {} s in the future: check the device's clock",
                               duration_cast<seconds>(signed_at - now).count()));
  return std::nullopt;
}

// The CSR must ask for exactly what the signer already has: a renewal, never a new identity.
std::optional<Refusal> check_csr(const pki::Csr& csr, const pki::Certificate& signer) {
  if (!csr.signature_valid()) return answered("the CSR's signature does not verify");
  if (!(csr.subject() == signer.subject()))
    return answered(fmt::format("the CSR's subject '{}' is not the signer's '{}'", csr.subject().to_string(),
                               signer.subject().to_string()));
  if (!same_sans(csr.sans(), signer.sans())) return answered("the CSR's SANs are not the signer certificate's");
  try {
    pki::check_key_policy(csr.public_key());
  } catch (const Error& e) {
    return answered(fmt::format("the CSR's key: {}", e.what()));
  }
  return std::nullopt;
}

std::variant<pki::SignedContent, Refusal> open_envelope(ByteView payload, const Policy& policy) {
  if (payload.size() > policy.max_request_bytes)
    return unanswered(fmt::format("oversized request: {} bytes (at most {})", payload.size(), policy.max_request_bytes));
  try {
    return pki::cms_verify(payload);
  } catch (const Error& e) {
    return unanswered(fmt::format("not a signed request: {}", e.what()));
  }
}

}  // namespace

std::variant<CheckedRequest, Refusal> check_request(std::string_view name, ByteView payload, const pki::Certificate& ca,
                                                    const Policy& policy, TimePoint now) {
  auto envelope = open_envelope(payload, policy);
  if (auto* refused = std::get_if<Refusal>(&envelope)) return std::move(*refused);
  auto& signed_content = std::get<pki::SignedContent>(envelope);
  const auto with_id = [&](Refusal r) {
    r.request_id = signed_content.transaction_id;
    return r;
  };
  if (auto r = check_signer(signed_content.signer, ca, policy, now)) return with_id(std::move(*r));
  if (auto r = check_time(signed_content.signing_time, policy, now)) return with_id(std::move(*r));
  std::optional<pki::Csr> csr;
  try {
    csr = pki::Csr::load(pki::ByteView(signed_content.content));
  } catch (const Error& e) {
    return with_id(answered(fmt::format("the signed content is not a CSR: {}", e.what())));
  }
  if (auto r = check_csr(*csr, signed_content.signer)) return with_id(std::move(*r));
  const bool rekey = !(csr->public_key() == signed_content.signer.public_key());
  return CheckedRequest{std::string(name), signed_content.signer, std::move(*csr), signed_content.transaction_id,
                        signed_content.signing_time, rekey};
}

std::optional<Refusal> check_signer_record(const CheckedRequest& request, const std::optional<SignerRecord>& record) {
  const std::string serial = request.signer.serial_hex();
  const auto refuse = [&](std::string reason) { return Refusal{std::move(reason), true, request.request_id}; };
  if (!record) return refuse(fmt::format("the signer certificate (serial {}) is not in the CA's records", serial));
  if (record->name != request.name)
    return refuse(fmt::format("the signer certificate (serial {}) is {}'s, not {}'s", serial, record->name, request.name));
  switch (record->status) {
    case SignerRecord::Status::valid:
      return std::nullopt;
    case SignerRecord::Status::revoked:
      return refuse(fmt::format("the signer certificate (serial {}) is revoked", serial));
    case SignerRecord::Status::superseded:
      break;
  }
  return refuse(fmt::format("the signer certificate (serial {}) is superseded by serial {}", serial, record->superseded_by));
}

RateLimiter::RateLimiter(const Policy& policy)
    : per_name_per_hour_(policy.per_name_per_hour),
      rate_(std::max(policy.total_per_second, 0.001)),
      tokens_(std::max(policy.total_per_second, 1.0)) {}

bool RateLimiter::allow_total(TimePoint now) {
  if (last_ != TimePoint{}) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(std::max(rate_, 1.0), tokens_ + std::max(elapsed, 0.0) * rate_);
  }
  last_ = now;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

bool RateLimiter::allow_name(const std::string& name, TimePoint now) {
  auto& times = recent_[name];
  while (!times.empty() && times.front() <= now - std::chrono::hours(1)) times.pop_front();
  if (times.size() >= per_name_per_hour_) return false;
  times.push_back(now);
  return true;
}

}  // namespace mqttpki::enroll
