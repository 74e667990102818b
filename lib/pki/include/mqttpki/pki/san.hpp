#pragma once
// Subject alternative names: the "TYPE:value" syntax of --san and their parsed form.

#include <string>
#include <string_view>

namespace mqttpki::pki {

struct GeneralName {
  enum class Type {
    dns,    // "mqtt.example.com", "localhost", "*.example.com"; stored lower-case
    ip,     // canonical text: "203.0.113.5", "::1", "2001:db8::1"
    uri,    // "spiffe://home/pi1"
    email,  // "pi@example.com"
    other,  // found in a certificate or CSR but not one of the above; value is a display string
  };
  Type type = Type::dns;
  std::string value;

  // "DNS:mqtt.example.com", "IP:203.0.113.5", "IP:::1", "URI:...", "email:..."; parse_san() accepts it back
  // (except for Type::other).
  [[nodiscard]] std::string to_string() const;
  bool operator==(const GeneralName&) const = default;
};

// "DNS:host" | "IP:1.2.3.4" | "IP:::1" | "URI:scheme:..." | "email:local@domain" (type prefix
// case-insensitive). Strict: DNS names are LDH labels of 1-63 characters (a leading "*." wildcard
// allowed), IPs must parse as IPv4 or IPv6, URIs need a scheme and no spaces, emails local@dns-name.
// Throws Errc::invalid_argument with a message that shows an accepted example.
GeneralName parse_san(std::string_view text);

}  // namespace mqttpki::pki
