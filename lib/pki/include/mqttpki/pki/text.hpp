#pragma once
// What a certificate may carry as names: the checks every issuance runs on the subject and SANs it is asked for
// (store::issue_certificate calls check_names(), so sign, renew and the renewal agent all refuse the same).
//
// A name becomes an identity elsewhere: Mosquitto's use_identity_as_username makes the CN the MQTT user name,
// ACLs match it, logs print it. So attribute values and SANs must be valid UTF-8 without control characters
// (C0, DEL, C1): "victim\0x" would otherwise be a second identity that prints and compares like "victim", and a
// newline would forge log lines. And a request is bounded, so that one CSR cannot hold the CA lock for an hour.

#include <mqttpki/pki/name.hpp>
#include <mqttpki/pki/san.hpp>
#include <mqttpki/text.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::pki {

inline constexpr std::size_t max_sans = 100;            // subjectAltName entries in one certificate
inline constexpr std::size_t max_san_bytes = 16 * 1024;  // their values together
inline constexpr std::size_t max_csr_bytes = 64 * 1024;  // a CSR file (PEM or DER)

// Why `text` cannot be a name ("a control character (U+000A)", "invalid UTF-8 at byte 3"), or nullopt.
// mqttpki/text.hpp's printable() shows such text safely.
[[nodiscard]] std::optional<std::string> text_problem(std::string_view text);

// Throws Errc::policy naming the attribute or SAN and the problem, e.g. "the subject's CN "pi\x0A1" holds a
// control character (0x0A); names may not contain control characters", or when there are more than max_sans
// SANs or their values exceed max_san_bytes.
void check_names(const Name& subject, const std::vector<GeneralName>& sans);

}  // namespace mqttpki::pki
