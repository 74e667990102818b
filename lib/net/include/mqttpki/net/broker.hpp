#pragma once
// The TLS MQTT broker: Asio I/O around mqtt::BrokerCore. One io_context thread; one coroutine per
// connection with its own write queue (capped); a 1 s timer drives keep-alive and CONNECT timeouts.
//
// Usage (tests, `mqttpki verify`): construct, start() to bind (port 0 = ephemeral; the returned
// listeners carry the bound ports), run() on a thread of your choice, stop() from any thread.
// reload() swaps in new TLS contexts (certfile, keyfile, cafile, crlfile re-read) for new connections;
// connected clients stay. See broker_config.hpp for the authentication rules.

#include <mqttpki/net/broker_config.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::net {

struct BrokerOptions {
  BrokerConfig config;
  std::chrono::milliseconds handshake_timeout{10000};  // TCP accept to TLS handshake done
  std::chrono::seconds connect_timeout{10};             // TLS done to CONNECT received
  std::size_t write_queue_limit = 8 * 1024 * 1024;      // bytes queued per connection before it is dropped
  std::size_t max_packet_size = 256 * 1024;
  bool handle_signals = false;  // SIGINT/SIGTERM stop, SIGHUP reloads (the broker command)
  bool verbose = false;         // also log each packet-level event from the core
  // Receives every log line (no trailing newline). Default: stderr with a UTC timestamp.
  std::function<void(std::string_view)> log;
};

struct BoundListener {
  std::string address;  // as bound, e.g. "127.0.0.1"
  std::uint16_t port = 0;
  bool tls = false;
  [[nodiscard]] std::string describe() const;  // "127.0.0.1:8883 (tls)"
};

struct BrokerCounters {
  std::size_t open_connections = 0;
  std::uint64_t accepted = 0;            // TCP connections accepted
  std::uint64_t handshakes_refused = 0;  // TLS handshakes that failed or timed out
  std::uint64_t reloads = 0;             // successful reloads
};

class Broker {
 public:
  explicit Broker(BrokerOptions options);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Loads TLS material and binds every listener. Throws mqttpki::Error naming the file or address.
  std::vector<BoundListener> start();
  // Runs the event loop on the calling thread until stop().
  void run();
  // Thread-safe; idempotent. Closes listeners and connections; run() returns.
  void stop();
  // Thread-safe. Re-reads certfile/keyfile/cafile/crlfile of every TLS listener into new contexts used
  // by new connections. On failure throws mqttpki::Error and keeps the old contexts. When run() is
  // active on another thread, the swap happens on the loop thread before reload() returns.
  void reload();
  // Snapshot, thread-safe.
  [[nodiscard]] BrokerCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mqttpki::net
