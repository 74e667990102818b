#pragma once
// Broker configuration: plain structs, and a pure parser for the subset of Mosquitto's configuration
// syntax that a TLS broker needs, so an existing mosquitto.conf (e.g. the classic TLSconfig.conf with
// `listener 8883`, cafile/certfile/keyfile, `tls_version tlsv1.2`, `require_certificate true`) loads as is.
//
// Authentication (decided per connection in lib/net, applied by mqtt::BrokerCore):
//  - A client whose certificate was verified on a `require_certificate true` listener is authenticated.
//    Deliberate difference from Mosquitto 2.0, which still demands a username or `allow_anonymous true`
//    there: a verified certificate is a stronger identity than a username.
//  - Any other client is anonymous. Anonymous clients are allowed when `allow_anonymous true` is set;
//    when allow_anonymous is not set at all they are allowed ONLY on a listener bound to a loopback
//    address (127.0.0.0/8, ::1), never on one reachable from the network.
//  - `listener PORT` without an address binds all IPv4 interfaces (0.0.0.0), as Mosquitto does, so a
//    config copied from Mosquitto behaves as written; by the rule above such a listener refuses anonymous
//    clients unless `allow_anonymous true` says otherwise.
//  - `port N` declares Mosquitto's default listener (all interfaces); directives before the first
//    `listener` line belong to it. `max_connections` before any listener is the broker-wide limit, inside a
//    listener block that listener's limit.
//  - `per_listener_settings true` makes allow_anonymous, password_file and acl_file apply to the listener
//    they follow; otherwise (the default, as in Mosquitto) they are global. TLS settings always belong to the
//    listener they follow.
//  - `password_file` (mosquitto_passwd's format) checks a CONNECT user name and password (CONNACK 4 when
//    wrong); `acl_file` limits what each client may publish and read (see net/auth_files.hpp, mqtt/acl.hpp).
//    When either applies to a listener, an unset allow_anonymous means false there, as in Mosquitto 2.0.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::net {

enum class TlsVersion { tls1_2, tls1_3 };  // the minimum version a listener accepts

struct AuthFiles {
  std::string password_file;
  std::string acl_file;
  [[nodiscard]] bool empty() const { return password_file.empty() && acl_file.empty(); }
};

struct ListenerConfig {
  std::uint16_t port = 8883;  // 0 picks an ephemeral port
  std::string address;        // empty: all IPv4 interfaces (0.0.0.0), as Mosquitto does
  // TLS: a listener is TLS when certfile/keyfile are set.
  std::string cafile;
  std::string certfile;
  std::string keyfile;
  std::string crlfile;
  TlsVersion tls_version = TlsVersion::tls1_2;
  bool require_certificate = false;
  bool use_identity_as_username = false;
  std::optional<bool> allow_anonymous;  // per_listener_settings true only
  // `max_connections` inside a listener block: this listener's limit (Mosquitto's meaning); unset or -1: only
  // the global BrokerConfig::max_connections applies.
  std::optional<std::size_t> max_connections;
  AuthFiles auth;                       // per_listener_settings true only
  int line = 0;                         // where it was declared (0: command line), for messages

  [[nodiscard]] bool tls() const { return !certfile.empty() || !keyfile.empty(); }
  [[nodiscard]] std::string bind_address() const { return address.empty() ? "0.0.0.0" : address; }
  [[nodiscard]] std::string name() const;  // "tls:8883" / "plain:1883", for logs
};

struct BrokerConfig {
  std::vector<ListenerConfig> listeners;
  std::optional<bool> allow_anonymous;  // global (per_listener_settings false)
  AuthFiles auth;                       // global (per_listener_settings false)
  bool per_listener_settings = false;
  std::size_t max_connections = 1000;
  // Per client, QoS 1/2 messages queued beyond those in flight, as Mosquitto counts them: 0 means no limit.
  // Unset: BrokerLimits' default (1,000).
  std::optional<std::size_t> max_queued_messages;
  // Per client, QoS 1/2 messages sent and not yet acknowledged; 0 means no limit. Unset: 20, as Mosquitto.
  std::optional<std::uint16_t> max_inflight_messages;
  // message_size_limit: the largest PUBLISH payload; larger ones are acknowledged and dropped. 0: no limit
  // besides MQTT's own. Unset: the broker's max_packet_size (256 KiB per packet) applies.
  std::optional<std::size_t> message_size_limit;
  bool allow_zero_length_clientid = true;  // false: an empty client id gets CONNACK 2
  // The session is named by the user name (with use_identity_as_username, the certificate's CN): one
  // identity cannot resume or take over another's session.
  bool use_username_as_clientid = false;
  std::chrono::seconds persistent_client_expiration{0};  // 0: persistent sessions never expire
  // Not Mosquitto's: connections from one source address still in their TLS handshake or before CONNECT; a
  // further one closes the oldest of them, so silent sockets cannot lock others out.
  std::size_t max_handshakes_per_address = 64;
  std::string source = "command line";  // the config file name, for messages

  // The effective allow_anonymous of a listener, after the loopback default described above.
  [[nodiscard]] bool anonymous_allowed(const ListenerConfig& l) const;
  // The password_file and acl_file in effect on a listener.
  [[nodiscard]] const AuthFiles& auth_files(const ListenerConfig& l) const {
    return per_listener_settings ? l.auth : auth;
  }
};

// Parses Mosquitto configuration text. `filename` is used in messages only. Throws mqttpki::Error
// (invalid_argument) with one line "FILE:LINE: ..." on an unsupported directive or a bad value.
BrokerConfig parse_mosquitto_config(std::string_view text, std::string_view filename);

// Reads FILE and parses it; relative certificate paths are kept as written (relative to the cwd, as
// Mosquitto does). Throws mqttpki::Error (not_found) when the file cannot be read.
BrokerConfig load_mosquitto_config(const std::string& path);

// Checks a configuration before starting: at least one listener, TLS listeners have cafile when they
// require certificates, files named exist. Throws mqttpki::Error naming the listener and the fix.
void validate(const BrokerConfig& config);

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_address(std::string_view address);

}  // namespace mqttpki::net
