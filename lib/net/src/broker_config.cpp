#include <mqttpki/net/broker_config.hpp>

#include <mqttpki/error.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mqttpki::net {

std::string ListenerConfig::name() const { return fmt::format("{}:{}", tls() ? "tls" : "plain", port); }

bool is_loopback_address(std::string_view address) {
  return address == "localhost" || address == "::1" || address.starts_with("127.");
}

bool BrokerConfig::anonymous_allowed(const ListenerConfig& l) const {
  std::optional<bool> setting = per_listener_settings ? l.allow_anonymous : allow_anonymous;
  if (setting) return *setting;
  if (!auth_files(l).empty()) return false;  // Mosquitto 2.0's default once a password or ACL file applies
  return !l.address.empty() && is_loopback_address(l.address);
}

namespace {

constexpr std::size_t mqtt_max_payload = 268'435'455;  // the largest remaining length MQTT can express

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

struct Parser {
  std::string_view file;
  int line = 0;
  BrokerConfig config;

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(Errc::invalid_argument, fmt::format("{}:{}: {}", file, line, what));
  }

  // Mosquitto takes the rest of the line as a path, so paths with spaces work.
  static std::string_view rest_after(std::string_view text, std::string_view directive) {
    auto pos = text.find(directive) + directive.size();
    auto rest = text.substr(pos);
    auto b = rest.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    rest = rest.substr(b);
    auto e = rest.find_last_not_of(" \t");
    return rest.substr(0, e + 1);
  }

  bool parse_bool(std::string_view directive, std::string_view v) const {
    if (v == "true") return true;
    if (v == "false") return false;
    fail(fmt::format("'{}' takes true or false, not '{}'", directive, v));
  }

  long long parse_number(std::string_view directive, std::string_view v) const {
    long long value = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
    if (ec != std::errc{} || p != v.data() + v.size()) fail(fmt::format("{} '{}' is not a number", directive, v));
    return value;
  }

  std::uint16_t parse_port(std::string_view v) const {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
    if (ec != std::errc{} || p != v.data() + v.size() || value > 65535)
      fail(fmt::format("listener port '{}' is not a number from 0 to 65535", v));
    return static_cast<std::uint16_t>(value);
  }

  // `port N` (Mosquitto's default listener, on all interfaces): directives before the first `listener` line
  // belong to it. True while it is the last listener declared.
  bool default_listener_last = false;
  bool has_default_listener = false;

  bool global_max_connections_set = false;  // `max_connections` before any listener

  void listener_max_connections(const std::vector<std::string_view>& words) {
    if (words.size() < 2) fail("'max_connections' needs a value");
    long long v = parse_number(words[0], words[1]);
    current(words[0]).max_connections = v < 0 ? std::nullopt : std::optional<std::size_t>(static_cast<std::size_t>(v));
    // Mosquitto has no broker-wide cap: a listener that allows more than our default total (1,000) raises it,
    // unless the configuration set the total itself.
    if (!global_max_connections_set)
      config.max_connections = std::max(config.max_connections, v < 0 ? std::size_t{1000000} : static_cast<std::size_t>(v));
  }

  // "3600", "2h", "1d", "1w", "1m" (month), "1y", as Mosquitto's persistent_client_expiration.
  std::chrono::seconds parse_expiration(std::string_view v) const {
    static constexpr std::pair<char, long long> units[] = {{'h', 3600}, {'d', 86400}, {'w', 604800},
                                                           {'m', 2592000}, {'y', 31536000}};
    const std::string_view original = v;
    long long unit = 1;
    for (const auto& [c, seconds] : units) {
      if (!v.empty() && v.back() == c) {
        unit = seconds;
        v.remove_suffix(1);
      }
    }
    long long n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || p != v.data() + v.size() || n <= 0 || n > 1000000)
      fail(fmt::format("persistent_client_expiration '{}' is not a duration; use e.g. 14d, 2h, 1w, 1m or 1y", original));
    return std::chrono::seconds(n * unit);
  }

  // The connection and queue limits; false when `d` is not one of them.
  bool limit_directive(std::string_view d, const std::vector<std::string_view>& words) {
    if (d != "max_connections" && d != "max_queued_messages" && d != "max_inflight_messages") return false;
    if (d == "max_connections" && !config.listeners.empty() && !default_listener_last) {
      listener_max_connections(words);  // a listener block's own limit
      return true;
    }
    if (words.size() < 2) fail(fmt::format("'{}' needs a value", d));
    const long long v = parse_number(d, words[1]);
    if (d == "max_connections") {
      // Mosquitto: -1 means unlimited.
      config.max_connections = v < 0 ? std::size_t{1000000} : static_cast<std::size_t>(v);
      global_max_connections_set = true;
    } else if (d == "max_queued_messages") {
      if (v < 0) fail(fmt::format("max_queued_messages '{}' must be 0 (no limit) or more", words[1]));
      config.max_queued_messages = static_cast<std::size_t>(v);
    } else {
      if (v < 0 || v > 65535) fail(fmt::format("max_inflight_messages '{}' must be from 0 (no limit) to 65535", words[1]));
      config.max_inflight_messages = static_cast<std::uint16_t>(v);
    }
    return true;
  }

  // General Mosquitto directives beyond the TLS listener ones; false when `d` is not one of them.
  bool general_directive(std::string_view d, const std::vector<std::string_view>& words) {
    if (d != "port" && d != "message_size_limit" && d != "allow_zero_length_clientid" &&
        d != "use_username_as_clientid" && d != "persistent_client_expiration" && d != "max_handshakes_per_address")
      return false;
    if (words.size() < 2) fail(fmt::format("'{}' needs a value", d));
    const std::string_view v = words[1];
    if (d == "port") {
      if (!has_default_listener) {
        config.listeners.insert(config.listeners.begin(), ListenerConfig{});
        has_default_listener = true;
        default_listener_last = config.listeners.size() == 1;
      }
      config.listeners.front().port = parse_port(v);
      config.listeners.front().line = line;
    } else if (d == "message_size_limit") {
      long long n = parse_number(d, v);
      if (n < 0 || static_cast<std::size_t>(n) > mqtt_max_payload)
        fail(fmt::format("message_size_limit '{}' must be from 0 (no limit) to {}", v, mqtt_max_payload));
      config.message_size_limit = static_cast<std::size_t>(n);
    } else if (d == "allow_zero_length_clientid") {
      config.allow_zero_length_clientid = parse_bool(d, v);
    } else if (d == "use_username_as_clientid") {
      config.use_username_as_clientid = parse_bool(d, v);
    } else if (d == "persistent_client_expiration") {
      config.persistent_client_expiration = parse_expiration(v);
    } else {
      long long n = parse_number(d, v);
      if (n < 1) fail(fmt::format("max_handshakes_per_address '{}' must be 1 or more", v));
      config.max_handshakes_per_address = static_cast<std::size_t>(n);
    }
    return true;
  }

  ListenerConfig& current(std::string_view directive) {
    if (config.listeners.empty())
      fail(fmt::format("'{}' must follow a 'listener PORT' line; add one above it", directive));
    return config.listeners.back();
  }

  void directive(std::string_view text) {
    auto words = split_words(text);
    auto d = words[0];
    auto need_value = [&](std::size_t n) {
      if (words.size() < n + 1) fail(fmt::format("'{}' needs a value", d));
    };
    if (d == "listener") {
      need_value(1);
      if (words.size() > 3) fail("'listener' takes PORT [ADDRESS]");
      ListenerConfig l;
      l.port = parse_port(words[1]);
      if (words.size() == 3) l.address = std::string(words[2]);
      l.line = line;
      config.listeners.push_back(std::move(l));
      default_listener_last = false;
    } else if (d == "cafile" || d == "certfile" || d == "keyfile" || d == "crlfile") {
      need_value(1);
      auto& l = current(d);
      std::string value(rest_after(text, d));
      if (d == "cafile") l.cafile = value;
      if (d == "certfile") l.certfile = value;
      if (d == "keyfile") l.keyfile = value;
      if (d == "crlfile") l.crlfile = value;
    } else if (d == "tls_version") {
      need_value(1);
      auto& l = current(d);
      if (words[1] == "tlsv1.2") {
        l.tls_version = TlsVersion::tls1_2;
      } else if (words[1] == "tlsv1.3") {
        l.tls_version = TlsVersion::tls1_3;
      } else if (words[1] == "tlsv1.1" || words[1] == "tlsv1") {
        fail(fmt::format("tls_version {} is below the TLS 1.2 minimum; use tlsv1.2 or tlsv1.3", words[1]));
      } else {
        fail(fmt::format("unknown tls_version '{}'; use tlsv1.2 or tlsv1.3", words[1]));
      }
    } else if (d == "require_certificate") {
      need_value(1);
      current(d).require_certificate = parse_bool(d, words[1]);
    } else if (d == "use_identity_as_username") {
      need_value(1);
      current(d).use_identity_as_username = parse_bool(d, words[1]);
    } else if (d == "allow_anonymous") {
      need_value(1);
      bool v = parse_bool(d, words[1]);
      if (config.per_listener_settings) {
        current(d).allow_anonymous = v;
      } else {
        config.allow_anonymous = v;
      }
    } else if (d == "password_file" || d == "acl_file") {
      need_value(1);
      AuthFiles& files = config.per_listener_settings ? current(d).auth : config.auth;
      (d == "acl_file" ? files.acl_file : files.password_file) = std::string(rest_after(text, d));
    } else if (d == "per_listener_settings") {
      need_value(1);
      if (!config.listeners.empty())
        fail("'per_listener_settings' must come before the first 'listener' line");
      config.per_listener_settings = parse_bool(d, words[1]);
    } else if (!limit_directive(d, words) && !general_directive(d, words)) {
      fail(fmt::format("unsupported directive '{}'; remove it or see 'mqttpki broker --help' for the "
                       "supported ones",
                       d));
    }
  }
};

}  // namespace

BrokerConfig parse_mosquitto_config(std::string_view text, std::string_view filename) {
  Parser p{filename, 0, {}};
  p.config.source = std::string(filename);
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    auto raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++p.line;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    auto b = raw.find_first_not_of(" \t");
    if (b == std::string_view::npos || raw[b] == '#') {
      if (end == text.size()) break;
      continue;
    }
    p.directive(raw.substr(b));
    if (end == text.size()) break;
  }
  return std::move(p.config);
}

BrokerConfig load_mosquitto_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(Errc::not_found,
                fmt::format("cannot read config file {}: {}; check the path", path, std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_mosquitto_config(ss.str(), path);
}

namespace {
void require_readable(const std::string& file, std::string_view directive, const ListenerConfig& l,
                      const BrokerConfig& c) {
  std::ifstream in(file);
  if (!in)
    throw Error(Errc::not_found, fmt::format("{}: listener {} ({}): cannot read {} {}: {}; fix the path",
                                             c.source, l.port, l.line > 0 ? fmt::format("line {}", l.line)
                                                                          : std::string("flags"),
                                             directive, file, std::strerror(errno)));
}
}  // namespace

void validate(const BrokerConfig& c) {
  if (c.listeners.empty())
    throw Error(Errc::invalid_argument,
                fmt::format("{}: no listener configured; add 'listener 8883' (or --port)", c.source));
  for (const auto& l : c.listeners) {
    auto where = l.line > 0 ? fmt::format("{}:{}", c.source, l.line) : c.source;
    if (l.tls()) {
      if (l.certfile.empty() || l.keyfile.empty())
        throw Error(Errc::invalid_argument,
                    fmt::format("{}: listener {} has {} but no {}; a TLS listener needs both", where, l.port,
                                l.certfile.empty() ? "keyfile" : "certfile",
                                l.certfile.empty() ? "certfile" : "keyfile"));
      require_readable(l.certfile, "certfile", l, c);
      require_readable(l.keyfile, "keyfile", l, c);
      if (l.require_certificate && l.cafile.empty())
        throw Error(Errc::invalid_argument,
                    fmt::format("{}: listener {} has require_certificate true but no cafile; add 'cafile "
                                "ca.crt' to say which CA signs client certificates",
                                where, l.port));
      if (!l.cafile.empty()) require_readable(l.cafile, "cafile", l, c);
      if (!l.crlfile.empty()) require_readable(l.crlfile, "crlfile", l, c);
    } else {
      if (l.require_certificate || !l.cafile.empty() || !l.crlfile.empty())
        throw Error(Errc::invalid_argument,
                    fmt::format("{}: listener {} has TLS settings but no certfile/keyfile; add them or "
                                "remove cafile/crlfile/require_certificate",
                                where, l.port));
    }
    if (l.use_identity_as_username && !l.require_certificate)
      throw Error(Errc::invalid_argument,
                  fmt::format("{}: listener {} has use_identity_as_username true without "
                              "require_certificate true; add 'require_certificate true'",
                              where, l.port));
  }
}

}  // namespace mqttpki::net
