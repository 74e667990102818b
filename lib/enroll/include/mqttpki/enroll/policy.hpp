#pragma once
// The renewal agent's rules (docs/renewal-over-mqtt.md), without I/O: what a request must prove before the CA
// issues anything. The agent command feeds them the payload, the CA certificate, the clock and what the CA's
// records say about the signer; it issues through store's one issuance path only when they pass.
//
// A request is refused, with one reason, when:
//   - the agent's total rate is exceeded (checked first: cheap), or the payload is over max_request_bytes;
//   - it is not a CMS SignedData with one valid signature, a signingTime and a request id;      (not answered)
//   - the signer certificate is not issued by this CA;                                            (not answered)
//   - the signer certificate is not yet valid, or expired more than `grace` ago;
//   - the signing time is older than max_age or more than max_skew ahead of the agent's clock;
//   - the content is not a CSR with a valid signature, or its subject or SANs differ from the signer's;
//   - the CA's records do not hold the signer as NAME's current certificate (unknown, another NAME's, revoked,
//     superseded; but see "answered again" in docs/renewal-over-mqtt.md);
//   - the request id was seen before (replay), or NAME has used up its requests per hour.
// "Not answered": nothing proves who sent it, so the agent only logs it (an answer would let anyone overwrite a
// device's retained answer). Every other refusal is answered with its reason on NAME's response topic.

#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/csr.hpp>
#include <mqttpki/pki/types.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace mqttpki::enroll {

using pki::ByteView;
using pki::TimePoint;

struct Policy {
  std::size_t max_request_bytes = 16 * 1024;
  std::chrono::seconds max_age = std::chrono::hours(24);  // queued requests wait for an agent that was offline
  std::chrono::seconds max_skew = std::chrono::minutes(5);
  std::chrono::seconds grace{0};         // a signer this long past its notAfter is still accepted
  unsigned per_name_per_hour = 6;
  double total_per_second = 50;          // sustained; bursts up to one second's worth
};

struct Refusal {
  std::string reason;
  bool answer = true;      // false: the sender is not authenticated; log only
  std::string request_id;  // when it could be read
};

// A request whose signature, signer and CSR passed every check that needs only the CA certificate and the clock.
struct CheckedRequest {
  std::string name;  // from the topic
  pki::Certificate signer;
  pki::Csr csr;
  std::string request_id;
  TimePoint signing_time{};
  bool rekey = false;  // the CSR carries another key than the signer's
};

[[nodiscard]] std::variant<CheckedRequest, Refusal> check_request(std::string_view name, ByteView payload,
                                                                  const pki::Certificate& ca, const Policy& policy,
                                                                  TimePoint now);

// What the CA's records say about the signer's serial.
struct SignerRecord {
  std::string name;
  enum class Status { valid, revoked, superseded } status = Status::valid;
  std::string superseded_by;  // serial, when superseded
};

// The refusal when the records do not hold the signer as NAME's current certificate; nullopt when they do.
[[nodiscard]] std::optional<Refusal> check_signer_record(const CheckedRequest& request,
                                                         const std::optional<SignerRecord>& record);

// Requests per NAME per hour (a sliding window) and the agent's total rate (a token bucket).
class RateLimiter {
 public:
  explicit RateLimiter(const Policy& policy);
  // One more request in total at `now`: counts it and returns true, or false when over the rate.
  bool allow_total(TimePoint now);
  // One more request for NAME at `now` (counted only when allowed).
  bool allow_name(const std::string& name, TimePoint now);

 private:
  unsigned per_name_per_hour_;
  double rate_;
  double tokens_;
  TimePoint last_{};
  std::map<std::string, std::deque<TimePoint>, std::less<>> recent_;
};

}  // namespace mqttpki::enroll
