#pragma once
// Connection options shared by `pub` and `sub`, spelled as in mosquitto_pub/mosquitto_sub so habits
// carry over (-h host, -p port, -i id, -k keepalive, -u user, --cafile, --cert, --key, --insecure).

#include <mqttpki/enroll/protocol.hpp>
#include <mqttpki/net/client.hpp>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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
  std::string password;       // -P: visible in the process list; --pw-file or the environment are better
  std::string password_file;  // --pw-file
  double timeout = 10;  // seconds, for connect and every acknowledgement
};

inline constexpr const char* mqtt_password_env = "MQTTPKI_MQTT_PASSWORD";

// -u USER, -P PASSWORD, --pw-file FILE (also used by `verify --broker`).
void add_mqtt_login_options(CLI::App& app, std::string& username, std::string& password, std::string& password_file);
// The password from -P, else the first line of --pw-file, else $MQTTPKI_MQTT_PASSWORD (only with a user name);
// a password without a user name is a usage error (MQTT 3.1.1 has no such CONNECT).
std::optional<std::string> mqtt_password(const std::string& username, const std::string& password,
                                         const std::string& password_file);

// Adds the options to `app` and makes --help the only help flag, so -h is the host.
void add_mqtt_connection_options(CLI::App& app, MqttConnectionOptions& o);

// A broker address as `--broker`/`--via` take it: HOST:PORT ("mqtt.example.com:8883", "[::1]:8883").
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
// Errc::invalid_argument "OPTION 'TEXT': write it as HOST:PORT, e.g. mqtt.example.com:8883".
HostPort parse_host_port(std::string_view option, const std::string& text);

// The link to a broker that `agent`, `renew --via` and `crl --via` share: mutual TLS with --cafile, --cert and
// --key (required: the broker knows the device or the agent by its certificate), optional -u/-P/--pw-file,
// the topic prefix and the timeout. The address option (--broker or --via) is the command's own.
struct BrokerLink {
  std::string address;
  std::string cafile;
  std::string cert;
  std::string key;
  std::string username;
  std::string password;
  std::string password_file;
  std::string prefix = std::string(enroll::default_prefix);
  double timeout = 10;
};
void add_broker_link_options(CLI::App& app, BrokerLink& link, std::string_view whose);
// Client options for the link; clean_session false keeps a persistent session (the agent's).
net::ClientOptions broker_link_client(const BrokerLink& link, std::string_view address_option, std::string client_id,
                                      bool clean_session);

// Subscribes to one filter at QoS 1; Errc::policy "the broker refused the subscription to TOPIC (check its ACL
// for this certificate's identity)" when the SUBACK says so. (Mosquitto grants what its ACL forbids and then
// delivers nothing; a broker that refuses says so.)
void subscribe_qos1(net::Client& client, const std::string& topic);

// TLS is on when --cafile, --cert or --insecure is given (as mosquitto_pub does with --cafile).
net::ClientOptions to_client_options(const MqttConnectionOptions& o, bool clean_session);

}  // namespace mqttpki::cli
