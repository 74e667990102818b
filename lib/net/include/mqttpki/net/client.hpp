#pragma once
// A blocking MQTT 3.1.1 client over TCP or TLS, for the pub/sub commands and in-process checks.
// It runs its own io_context; every wait is bounded by ClientOptions::timeout. Failures throw
// mqttpki::Error (Errc::network) with one human line, e.g. "server certificate is not signed by ca.crt",
// "hostname 'x' not in SAN [DNS:a, IP:b]" or "broker refused: not authorised (CONNACK 5)".

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mqttpki::net {

struct ClientTlsOptions {
  bool enabled = false;
  std::string cafile;    // trust anchors for the server; empty: the system's default store
  std::string certfile;  // client certificate (mutual TLS)
  std::string keyfile;
  bool insecure = false;  // skip server verification (hostname and chain): for debugging only
  std::string server_name;  // name checked against the SAN and sent as SNI; empty: the host
};

struct ClientOptions {
  std::string host = "localhost";
  std::uint16_t port = 8883;
  ClientTlsOptions tls;
  std::string client_id;  // empty: "mqttpki-<random>"
  std::uint16_t keepalive = 60;
  bool clean_session = true;
  std::optional<std::string> username;
  std::optional<std::string> password;  // never logged
  std::chrono::milliseconds timeout{10000};  // bound on connect, handshake and every acknowledgement
  // Largest packet accepted from the broker, checked before its body is buffered: a hostile or broken broker
  // cannot make the client allocate more (MQTT itself allows 256 MiB). Messages that arrive while the caller
  // waits for an acknowledgement wait in the client up to 4 times this (in payload bytes); more is an error.
  std::size_t max_packet_size = 16 * 1024 * 1024;
};

// A message the client received (its own copy of the payload; the broker side shares payloads: mqtt::Message).
struct ReceivedMessage {
  std::string topic;
  std::vector<std::uint8_t> payload;
  std::uint8_t qos = 0;
  bool retain = false;
  [[nodiscard]] std::string payload_string() const { return {payload.begin(), payload.end()}; }
};

struct ConnectResult {
  bool session_present = false;
  std::string tls_summary;  // "TLSv1.3 TLS_AES_256_GCM_SHA384", empty for plain TCP
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // TCP connect, TLS handshake with verification, CONNECT/CONNACK.
  ConnectResult connect();
  // QoS 0: written; QoS 1: waits for PUBACK; QoS 2: PUBREC, PUBREL, PUBCOMP.
  void publish(const std::string& topic, const std::vector<std::uint8_t>& payload, std::uint8_t qos = 0,
               bool retain = false);
  void publish(const std::string& topic, const std::string& payload, std::uint8_t qos = 0, bool retain = false);
  // Waits for SUBACK; returns the granted QoS per filter (0x80: refused).
  std::vector<std::uint8_t> subscribe(const std::vector<std::pair<std::string, std::uint8_t>>& filters);
  // The next application message, or nullopt when `wait` elapsed. Acknowledges QoS 1/2 as required and
  // answers keep-alive. Throws when the connection is lost.
  std::optional<ReceivedMessage> receive(std::chrono::milliseconds wait);
  // Sends PINGREQ and waits for PINGRESP.
  void ping();
  // DISCONNECT and close; never throws.
  void disconnect() noexcept;
  [[nodiscard]] bool connected() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mqttpki::net
