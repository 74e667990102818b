#pragma once
// The broker's protocol logic without I/O (sans-IO): the network layer (lib/net) feeds it connection
// events and raw bytes; it answers through BrokerOutput with bytes to send and connections to close.
// Everything MQTT 3.1.1 a broker must do lives here and is unit-tested without sockets: framing and
// validation, CONNECT/CONNACK, sessions (clean and persistent, takeover), QoS 0/1/2 flows and resend,
// subscriptions with wildcards, retained messages, wills, keep-alive and per-client limits.
// Single-threaded by design: the net layer calls it from one io_context thread.
//
// Choices where MQTT 3.1.1 leaves room (as Mosquitto does by default):
// - QoS 0 messages are not queued for offline persistent sessions; QoS 1/2 are, up to
//   max_queued_messages, after which further ones are dropped with one log line.
// - A session taken over by a new connection ends the old one abnormally: its will is published.
// - Persistent sessions do not expire unless persistent_session_expiry is set. Without an ACL clients may
//   publish to $-topics; with one (acl.hpp) the decisions are Mosquitto 2.0's, made in
//   BrokerCore::Impl::authorize and at delivery.
// - An empty client id with clean_session=1 gets an assigned id ("auto-..."); a client id with
//   ASCII control characters is rejected with CONNACK 2.
// - MQTT 3.1 clients ("MQIsdp", level 3) are served with 3.1's rules: a client id of 1 to 23 bytes (else
//   CONNACK 2), no session-present flag in CONNACK.
// - An acknowledgement that contradicts the message's QoS flow (PUBREC/PUBCOMP for QoS 1, PUBACK for QoS 2,
//   PUBCOMP before PUBREL) closes the connection (section 4.8); unknown or repeated ids are ignored.
// - A SUBSCRIBE's retained messages are paced by the connection's write backlog; pending ones belong to
//   the connection (a client that disconnects mid-burst gets them again when it subscribes again).

#include <mqttpki/mqtt/acl.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::mqtt {

using ConnectionId = std::uint64_t;
using Clock = std::chrono::steady_clock;

struct BrokerLimits {
  std::size_t max_packet_size = 256 * 1024;           // bytes, whole packet; larger closes the connection
  std::size_t max_connections = 10000;                // further CONNECTs get CONNACK 3 (server unavailable)
  std::size_t max_queued_messages = 1000;             // per session: QoS 1/2 messages waiting beyond those in
                                                      // flight, as Mosquitto counts (0 = no limit); QoS 0 is
                                                      // never queued offline
  std::size_t max_subscriptions_per_client = 1000;
  std::chrono::seconds connect_timeout{10};           // a connection must send CONNECT within this
  std::uint16_t max_inflight = 20;                    // unacknowledged outgoing QoS 1/2 per session (0 = no limit)
  // Mosquitto's message_size_limit: a PUBLISH with a larger payload is acknowledged but not delivered or
  // retained (0 = no limit besides max_packet_size).
  std::size_t max_payload_size = 0;
  // Mosquitto's persistent_client_expiration: a persistent session whose client stayed away this long is
  // discarded (0 = never).
  std::chrono::seconds persistent_session_expiry{0};
  // A SUBSCRIBE's retained messages are sent while the connection's write backlog (BrokerOutput::backlog)
  // is under this many bytes; the rest as it drains (on_writable).
  std::size_t retained_window = 1024 * 1024;
};

// Checks a CONNECT user name and password (lib/net implements it with a Mosquitto password_file).
class PasswordCheck {
 public:
  virtual ~PasswordCheck() = default;
  [[nodiscard]] virtual bool verify(std::string_view username,
                                    const std::optional<std::vector<std::uint8_t>>& password) const = 0;
};

// What the network layer knows about a connection before MQTT starts; it decides authentication
// from its listener configuration (see lib/net) and tells the core the outcome.
struct ConnectionInfo {
  std::string peer;                            // "127.0.0.1:53211", for logs
  std::string listener;                        // "tls:8883" or "plain:1883", for logs
  std::optional<std::string> certificate_cn;   // verified client certificate's CN, if any
  // When set, this becomes the MQTT username (use_identity_as_username) and any username in
  // CONNECT is ignored.
  std::optional<std::string> identity_username;
  // The client presented a certificate that was verified (require_certificate listeners).
  bool certificate_authenticated = false;
  // The listener accepts clients without a verified certificate (allow_anonymous in effect).
  bool anonymous_allowed = false;
  // Mosquitto's use_username_as_clientid: the session is named by the user name (with
  // identity_username, the certificate's CN), so one identity cannot take over another's session; a
  // client without a user name gets CONNACK 5.
  bool username_as_client_id = false;
  // Mosquitto's allow_zero_length_clientid: false refuses an empty client id with CONNACK 2.
  bool zero_length_client_id_allowed = true;
  // password_file of the listener: a CONNECT user name (without a certificate identity) must pass it,
  // else CONNACK 4. Null: user names are not checked.
  std::shared_ptr<const PasswordCheck> passwords;
  // acl_file of the listener (null: everything allowed), compiled for the client at CONNECT.
  std::shared_ptr<const Acl> acl;
};

// Calls may come from inside any BrokerCore entry point. An implementation may call
// BrokerCore::on_close from inside send() (e.g. a write that fails synchronously): the core defers it
// until the outer call returns. Other re-entrant calls are not supported.
class BrokerOutput {
 public:
  virtual ~BrokerOutput() = default;
  // Queue bytes for the connection, in order.
  virtual void send(ConnectionId id, std::vector<std::uint8_t> bytes) = 0;
  // Close the connection after what was queued has been flushed. The core has already
  // forgotten the connection (published its will if due); the net layer must not call
  // on_close for it afterwards (doing so is harmless).
  virtual void close(ConnectionId id, std::string_view reason) = 0;
  // One log line (no secrets: never a password or payload).
  virtual void log(std::string_view line) = 0;
  // Bytes queued for the connection and not yet written to its socket. The core paces a SUBSCRIBE's
  // retained messages by it (BrokerLimits::retained_window); 0 (the default) means "sends everything now".
  [[nodiscard]] virtual std::size_t backlog(ConnectionId) const { return 0; }
};

struct BrokerStats {
  std::size_t connections = 0;      // open network connections known to the core
  std::size_t sessions = 0;         // including persistent sessions of disconnected clients
  std::size_t retained = 0;
  std::size_t subscriptions = 0;
  std::uint64_t messages_in = 0;    // PUBLISH received
  std::uint64_t messages_out = 0;   // PUBLISH sent
};

class BrokerCore {
 public:
  BrokerCore(BrokerLimits limits, BrokerOutput& out);
  ~BrokerCore();
  BrokerCore(const BrokerCore&) = delete;
  BrokerCore& operator=(const BrokerCore&) = delete;

  // A network connection was accepted (and its TLS handshake, if any, completed).
  void on_open(ConnectionId id, ConnectionInfo info, Clock::time_point now);
  // Bytes arrived; any framing may split or join packets. Malformed input closes that connection only.
  void on_bytes(ConnectionId id, std::span<const std::uint8_t> bytes, Clock::time_point now);
  // The network connection ended without the core asking (peer closed, I/O error): publishes the
  // will unless a DISCONNECT was received.
  void on_close(ConnectionId id, Clock::time_point now);
  // The connection's write backlog has drained: the core sends what it was pacing (retained messages).
  void on_writable(ConnectionId id, Clock::time_point now);
  // A reloaded acl_file for an open connection (null: none); a connected client gets it at once.
  void set_acl(ConnectionId id, std::shared_ptr<const Acl> acl);
  // Periodic tick (e.g. every second): enforces keep-alive (1.5x), the CONNECT timeout and the expiry of
  // persistent sessions.
  void on_tick(Clock::time_point now);

  [[nodiscard]] BrokerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mqttpki::mqtt
