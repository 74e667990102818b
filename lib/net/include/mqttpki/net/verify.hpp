#pragma once
// Proves a certificate set before anyone copies it to a device: static checks (chain, validity, EKU per role,
// SAN covers the host the client dials, key matches certificate, not revoked), then a live mutual-TLS MQTT
// round trip through the bundled broker on an ephemeral 127.0.0.1 port. Also checks a remote broker from the
// device side. Used by `mqttpki verify`; the caller reads the files (store) and passes their bytes and paths.

#include <mqttpki/pki/types.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mqttpki::net {

struct CheckItem {
  std::string what;    // "server certificate chains to ca.crt"
  bool ok = false;
  std::string detail;  // "364 days left" or the reason it failed
};

struct CheckReport {
  std::vector<CheckItem> items;
  std::vector<std::string> skipped;  // checks not run and why, e.g. a key match without the key
  [[nodiscard]] bool ok() const;
  [[nodiscard]] std::size_t failures() const;
};

// One file both as read (for static checks) and by path (for the live TLS check). `label` names it in the
// report, e.g. "pki/issued/server.crt".
struct InputFile {
  std::string path;
  pki::Bytes data;
};

struct SetupCheckOptions {
  InputFile ca;
  InputFile server_cert, server_key;  // a key with an empty path: not given (its checks are skipped)
  InputFile client_cert, client_key;
  std::optional<InputFile> crl;                 // checked statically and loaded by the live broker
  std::vector<std::string> revoked_serials;     // from the CA's index (upper-case hex)
  std::string host = "localhost";               // the name or IP the client will dial
  pki::TimePoint now = std::chrono::system_clock::now();
  bool live = true;                             // run the broker round trip
  std::chrono::milliseconds timeout{10000};
};

CheckReport check_setup(const SetupCheckOptions& options);

// A second identity for `verify --topic`: one that may read the topic, so that a publish can be seen to pass
// the ACL even when the checked identity may not read it back.
struct RemoteReader {
  std::string certfile, keyfile;                  // empty: no client certificate
  std::optional<std::string> username, password;  // password never printed
};

struct RemoteCheckOptions {
  std::string host;
  std::uint16_t port = 8883;
  std::string cafile, certfile, keyfile;
  std::string client_id;  // empty: random
  std::optional<std::string> username, password;  // password never printed
  // Empty: a private topic. Set: the ACL check on this topic name (see below).
  std::string topic;
  std::optional<RemoteReader> reader;  // with `topic` only
  std::chrono::milliseconds timeout{10000};
};

// From the device side: TLS handshake with the server verified (chain and host name), CONNECT accepted,
// subscribe + publish + receive one QoS 1 message on a private topic, or on `topic`: there the round trip
// shows the identity may publish and read it; a retained message delivered on subscribing shows it may read
// it (so a missing echo means publishing is refused), and delivery to `reader` shows it may publish. An ACL grants
// the subscription either way (Mosquitto 2.0).
CheckReport check_remote_broker(const RemoteCheckOptions& options);

}  // namespace mqttpki::net
