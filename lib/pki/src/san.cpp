#include <mqttpki/error.hpp>
#include <mqttpki/pki/san.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace mqttpki::pki {

namespace {

constexpr std::string_view examples =
    "e.g. DNS:mqtt.example.com, IP:203.0.113.5, IP:::1, URI:spiffe://home/pi1 or email:pi@example.com";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return out;
}

// Why `name` is not a valid DNS name, or "" if it is.
std::string dns_problem(std::string_view name, bool allow_wildcard) {
  if (name.empty()) return "empty name";
  if (name.size() > 253) return "longer than 253 characters";
  if (name.back() == '.') return "trailing dot";
  std::size_t start = 0;
  int label_index = 0;
  int labels = static_cast<int>(std::count(name.begin(), name.end(), '.')) + 1;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) return "empty label";
    if (label == "*") {
      if (!allow_wildcard || label_index != 0) return "a wildcard '*' is only allowed as the whole first label";
      if (labels < 3) return "a wildcard needs at least two labels after it (*.example.com)";
    } else {
      if (label.size() > 63) return "label longer than 63 characters";
      for (char c : label) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-') {
          return std::string("character '") + c + "' not allowed (letters, digits, '-' and '.')";
        }
      }
      if (label.front() == '-' || label.back() == '-') return "a label may not start or end with '-'";
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
    ++label_index;
  }
  return {};
}

}  // namespace

std::string GeneralName::to_string() const {
  switch (type) {
    case Type::dns:
      return "DNS:" + value;
    case Type::ip:
      return "IP:" + value;
    case Type::uri:
      return "URI:" + value;
    case Type::email:
      return "email:" + value;
    case Type::other:
      break;
  }
  return value;
}

GeneralName parse_san(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error(Errc::invalid_argument, "invalid SAN \"" + std::string(text) + "\": " + why + " (" +
                                             std::string(examples) + ")");
  };
  auto colon = text.find(':');
  if (colon == std::string_view::npos) throw bad("expected TYPE:value");
  std::string type = lower(text.substr(0, colon));
  std::string_view value = text.substr(colon + 1);
  if (value.empty()) throw bad("empty value");
  if (type == "dns") {
    std::string v = lower(value);
    if (auto why = dns_problem(v, true); !why.empty()) throw bad(why);
    std::array<unsigned char, 4> ipv4{};
    if (inet_pton(AF_INET, v.c_str(), ipv4.data()) == 1) {
      throw bad("an IP address must be given as IP:" + v);
    }
    return {GeneralName::Type::dns, v};
  }
  if (type == "ip") {
    std::string v(value);
    std::array<unsigned char, 16> buf{};
    std::array<char, INET6_ADDRSTRLEN> canon{};
    int family = 0;
    if (inet_pton(AF_INET, v.c_str(), buf.data()) == 1) {
      family = AF_INET;
    } else if (inet_pton(AF_INET6, v.c_str(), buf.data()) == 1) {
      family = AF_INET6;
    } else {
      throw bad("not an IPv4 or IPv6 address");
    }
    inet_ntop(family, buf.data(), canon.data(), static_cast<socklen_t>(canon.size()));
    return {GeneralName::Type::ip, canon.data()};
  }
  if (type == "uri") {
    auto sc = value.find(':');
    if (sc == std::string_view::npos || sc == 0) throw bad("a URI needs a scheme, as in spiffe://home/pi1");
    if (std::isalpha(static_cast<unsigned char>(value[0])) == 0) throw bad("a URI scheme starts with a letter");
    for (std::size_t i = 0; i < sc; ++i) {
      char c = value[i];
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '+' && c != '-' && c != '.') {
        throw bad("bad character in the URI scheme");
      }
    }
    if (sc + 1 == value.size()) throw bad("nothing after the URI scheme");
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' ||
          c == '{' || c == '|' || c == '}') {
        throw bad("a URI may not contain spaces, control or non-ASCII characters (percent-encode them)");
      }
    }
    return {GeneralName::Type::uri, std::string(value)};
  }
  if (type == "email") {
    auto at = value.rfind('@');
    if (at == std::string_view::npos || at == 0) throw bad("an email address is local@domain");
    std::string_view local = value.substr(0, at);
    for (char c : local) {
      auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7f || c == '@' || c == '"' || c == '(' || c == ')' || c == ',' || c == ':' ||
          c == ';' || c == '<' || c == '>' || c == '[' || c == ']' || c == '\\') {
        throw bad("character not allowed in the local part of an email address");
      }
    }
    std::string domain = lower(value.substr(at + 1));
    if (auto why = dns_problem(domain, false); !why.empty()) throw bad("email domain: " + why);
    return {GeneralName::Type::email, std::string(local) + "@" + domain};
  }
  throw bad("unknown type \"" + std::string(text.substr(0, colon)) + "\"");
}

}  // namespace mqttpki::pki
