#pragma once
// Connection options shared by `pub` and `sub`, spelled as in mosquitto_pub/mosquitto_sub so habits
// carry over (-h host, -p port, -i id, -k keepalive, -u user, --cafile, --cert, --key, --insecure).

#include <mqttpki/net/client.hpp>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace mqttpki::cli {

struct MqttConnectionOptions {
  std::string host = "localhost";
  int port = 0;  // 0: 8883 with TLS, 1883 without
  std::string cafile;
  std::string cert;
  std::string key;
  bool insecure = false;
  bool plain = false;  // no TLS even though nothing says otherwise
  std::string id;
  int keepalive = 60;
  std::string username;
  double timeout = 10;  // seconds, for connect and every acknowledgement
};

// Adds the options to `app` and makes --help the only help flag, so -h is the host.
void add_mqtt_connection_options(CLI::App& app, MqttConnectionOptions& o);

// TLS is on when --cafile, --cert or --insecure is given (as mosquitto_pub does with --cafile).
net::ClientOptions to_client_options(const MqttConnectionOptions& o, bool clean_session);

}  // namespace mqttpki::cli
