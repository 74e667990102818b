#pragma once
// Renewal over MQTT, the protocol (docs/renewal-over-mqtt.md), without I/O: topic names, the device's signed
// request, the agent's answer, and the device's check of an answer. The agent's rules are in policy.hpp.
//
//   PREFIX/renew/NAME/request   device -> agent, QoS 1: a CMS SignedData (DER) over the DER PKCS#10 request,
//                               signed with the device's current certificate and key (pki/cms.hpp), with a
//                               signingTime and a random request id (SCEP's transactionID attribute)
//   PREFIX/renew/NAME/response  agent -> device, QoS 1, retained: JSON {"version":1,"request_id":ID,
//                               "certificate":PEM (the new certificate, then the CA certificate)} or
//                               {"version":1,"request_id":ID,"error":"short reason"}
//   PREFIX/crl                  agent -> everyone, QoS 1, retained: the CA's current CRL (PEM)
//
// PREFIX defaults to mqttpki/v1. NAME is the certificate's NAME in the CA's records (`mqttpki list`).

#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/csr.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/types.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::enroll {

using pki::Bytes;
using pki::ByteView;
using pki::TimePoint;

inline constexpr std::string_view default_prefix = "mqttpki/v1";

class Topics {
 public:
  // Errc::invalid_argument for a prefix that is empty, has a wildcard ('+', '#'), a NUL, starts or ends with
  // '/', or is longer than 200 bytes.
  explicit Topics(std::string prefix = std::string(default_prefix));
  [[nodiscard]] std::string request(std::string_view name) const;   // PREFIX/renew/NAME/request
  [[nodiscard]] std::string response(std::string_view name) const;  // PREFIX/renew/NAME/response
  [[nodiscard]] std::string crl() const;                            // PREFIX/crl
  [[nodiscard]] std::string request_filter() const;                 // PREFIX/renew/+/request
  // NAME when `topic` is a request topic under this prefix; nullopt otherwise.
  [[nodiscard]] std::optional<std::string> request_name(std::string_view topic) const;
  [[nodiscard]] const std::string& prefix() const noexcept { return prefix_; }

 private:
  std::string prefix_;
};

// A request as the device sends it.
struct Request {
  Bytes payload;       // the CMS SignedData, DER
  std::string id;      // its request id: 32 hex digits (128 random bits)
};

// Signs `csr` with the device's current certificate and key. The CSR is the same key's for a renewal, a new
// key's for a re-key (the request then proves possession of both keys).
[[nodiscard]] Request make_request(const pki::Csr& csr, const pki::Certificate& current,
                                   const pki::PrivateKey& current_key, TimePoint now,
                                   const pki::RandomSource& random = {});

// The agent's answer.
struct Response {
  std::string request_id;
  std::string certificate_pem;  // the new certificate followed by the CA certificate; empty for a refusal
  std::string error;            // the refusal's reason; empty for a certificate
  [[nodiscard]] bool refused() const { return certificate_pem.empty(); }
};
[[nodiscard]] std::string encode_response(const Response& response);
// Errc::bad_format "not a renewal answer (...)" for anything else, including an answer of another version.
[[nodiscard]] Response decode_response(std::string_view text);

// What the device expects of an answer before it installs anything.
struct Expectation {
  std::vector<pki::Certificate> cas;  // the device's trust anchors (--cafile)
  pki::Certificate current;           // its current certificate
  pki::PublicKey key;                 // the key it asked for (the current one, or the new one with --rekey)
  TimePoint now;
};

// The new certificate in `response` when the device may install it: it chains to one of the device's CAs (at
// `now`), has the current certificate's subject and SANs, carries the key the device asked for, and expires
// later than the current one (or as late, when it is not the current one). So a forged or replayed answer installs nothing. Throws Errc::verify_failed
// with the reason otherwise ("the certificate is not signed by the CA (...)", "its SANs differ from the
// current certificate's", "it carries another key", "it expires no later than the current certificate"),
// Errc::policy with the agent's reason for a refusal, Errc::bad_format for a garbled PEM.
[[nodiscard]] pki::Certificate check_answer(const Response& response, const Expectation& expected);

// The same SANs, in any order.
[[nodiscard]] bool same_sans(std::vector<pki::GeneralName> a, std::vector<pki::GeneralName> b);

}  // namespace mqttpki::enroll
