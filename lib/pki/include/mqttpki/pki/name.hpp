#pragma once
// Distinguished names. A Name is an immutable value holding the DER encoding of an X.509 Name.

#include <mqttpki/pki/types.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mqttpki::pki {

struct NameEntry {
  std::string key;    // short name: "CN", "O", "OU", "C", "L", "ST", or a dotted OID
  std::string value;  // UTF-8
  bool operator==(const NameEntry&) const = default;
};

class Name {
 public:
  Name();  // the empty name

  // Encoded in the order C, O, CN (most general first); empty organization/country are left out.
  // Throws Errc::invalid_argument: empty CN, CN/O longer than 64 characters, country not 2 letters
  // (upper-cased: "de" -> "DE").
  static Name build(std::string_view common_name, std::string_view organization = {},
                    std::string_view country = {});
  // One-line form "CN=pi1,O=Home,C=DE" (keys CN, O, OU, C, L, ST; any order; '\,' escapes a comma).
  // Encoded most general first, i.e. the reverse of the text, as RFC 4514 strings are. Same
  // validation as build(); a CN is required.
  static Name parse(std::string_view text);
  // DER X.509 Name. Throws Errc::bad_format.
  static Name from_der(ByteView der);

  [[nodiscard]] const Bytes& der() const noexcept { return der_; }
  [[nodiscard]] bool empty() const;
  // "CN=pi1,O=Home,C=DE": RFC 4514 order (most specific first), UTF-8 kept as is.
  [[nodiscard]] std::string to_string() const;
  // Entries in encoding order (most general first).
  [[nodiscard]] std::vector<NameEntry> entries() const;
  // First value of that attribute, if any.
  [[nodiscard]] std::optional<std::string> common_name() const;
  [[nodiscard]] std::optional<std::string> organization() const;
  [[nodiscard]] std::optional<std::string> country() const;

  // Equality as X.509 compares names (canonical form: case and spacing of values do not matter).
  friend bool operator==(const Name& a, const Name& b);

 private:
  explicit Name(Bytes der) : der_(std::move(der)) {}
  Bytes der_;
  friend struct detail::Access;
};

}  // namespace mqttpki::pki
