#include "mqtt_common.hpp"

#include <mqttpki/error.hpp>
#include <mqttpki/store/passphrase.hpp>

#include <cstdlib>

#include <fmt/format.h>

namespace mqttpki::cli {

void add_mqtt_connection_options(CLI::App& app, MqttConnectionOptions& o) {
  app.set_help_flag("--help", "Print this help message and exit");
  app.add_option("-h,--host", o.host, "Broker host name or IP; checked against the server certificate's SAN")
      ->capture_default_str();
  app.add_option("-p,--port", o.port, "Broker port (default 8883 with TLS, 1883 without)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--cafile", o.cafile, "CA certificate that signed the broker's certificate (enables TLS)");
  app.add_option("--cert", o.cert, "Client certificate for mutual TLS (enables TLS)");
  app.add_option("--key", o.key, "Client private key (unencrypted PEM) matching --cert");
  app.add_flag("--insecure", o.insecure,
               "Do not verify the broker's certificate or host name (enables TLS; debugging only)");
  app.add_option("-i,--id", o.id, "Client id (default: mqttpki-<random>)");
  app.add_option("-k,--keepalive", o.keepalive, "Keep-alive in seconds (0 disables)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  add_mqtt_login_options(app, o.username, o.password, o.password_file);
  app.add_option("--timeout", o.timeout, "Seconds to wait for connect and each acknowledgement")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

void add_mqtt_login_options(CLI::App& app, std::string& username, std::string& password, std::string& password_file) {
  app.add_option("-u,--username", username, "MQTT user name (ignored by brokers using the certificate identity)");
  app.add_option("-P,--pw", password,
                 fmt::format("MQTT password; other users can read it in the process list, so prefer --pw-file or "
                             "${}",
                             mqtt_password_env));
  app.add_option("--pw-file", password_file, "Read the MQTT password from the first line of FILE");
}

std::optional<std::string> mqtt_password(const std::string& username, const std::string& password,
                                         const std::string& password_file) {
  if ((!password.empty() || !password_file.empty()) && username.empty())
    throw Error(Errc::invalid_argument, "a password needs a user name: add -u USER");
  if (!password.empty()) return password;
  if (!password_file.empty()) return store::read_passphrase_file(password_file).view();
  const char* env = std::getenv(mqtt_password_env);
  if (env != nullptr && !username.empty()) return std::string(env);
  return std::nullopt;
}

HostPort parse_host_port(std::string_view option, const std::string& text) {
  const auto bad = [&] {
    return Error(Errc::invalid_argument,
                 fmt::format("{} '{}': write it as HOST:PORT, e.g. mqtt.example.com:8883", option, text));
  };
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) throw bad();
  std::string host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);  // [::1]:8883
  const std::string port_text = text.substr(colon + 1);
  if (host.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) throw bad();
  const int port = std::stoi(port_text);
  if (port < 1 || port > 65535) throw bad();
  return {host, static_cast<std::uint16_t>(port)};
}

void add_broker_link_options(CLI::App& app, BrokerLink& link, std::string_view whose) {
  app.add_option("--cafile", link.cafile, "CA certificate the broker's certificate must chain to")->type_name("FILE");
  app.add_option("--cert", link.cert, fmt::format("{} certificate for mutual TLS with the broker", whose))
      ->type_name("FILE");
  app.add_option("--key", link.key, fmt::format("{} private key (unencrypted PEM)", whose))->type_name("FILE");
  add_mqtt_login_options(app, link.username, link.password, link.password_file);
  app.add_option("--prefix", link.prefix, "Topic prefix of renewal over MQTT")->capture_default_str();
  app.add_option("--timeout", link.timeout, "Seconds to wait for the connection and each acknowledgement")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

net::ClientOptions broker_link_client(const BrokerLink& link, std::string_view address_option, std::string client_id,
                                      bool clean_session) {
  if (link.cafile.empty() || link.cert.empty() || link.key.empty())
    throw Error(Errc::invalid_argument,
                fmt::format("{} needs --cafile CA, --cert FILE and --key FILE (mutual TLS with the broker)", address_option));
  const HostPort where = parse_host_port(address_option, link.address);
  MqttConnectionOptions o;
  o.host = where.host;
  o.port = where.port;
  o.cafile = link.cafile;
  o.cert = link.cert;
  o.key = link.key;
  o.id = std::move(client_id);
  o.username = link.username;
  o.password = link.password;
  o.password_file = link.password_file;
  o.timeout = link.timeout;
  return to_client_options(o, clean_session);
}

void subscribe_qos1(net::Client& client, const std::string& topic) {
  const auto granted = client.subscribe({{topic, 1}});
  if (granted.empty() || granted.front() == 0x80)
    throw Error(Errc::policy, fmt::format("the broker refused the subscription to {} (check its ACL for this "
                                          "certificate's identity)",
                                          topic));
}

net::ClientOptions to_client_options(const MqttConnectionOptions& o, bool clean_session) {
  net::ClientOptions c;
  c.host = o.host;
  c.tls.enabled = !o.cafile.empty() || !o.cert.empty() || !o.key.empty() || o.insecure;
  c.port = static_cast<std::uint16_t>(o.port != 0 ? o.port : (c.tls.enabled ? 8883 : 1883));
  c.tls.cafile = o.cafile;
  c.tls.certfile = o.cert;
  c.tls.keyfile = o.key;
  c.tls.insecure = o.insecure;
  if (o.cert.empty() != o.key.empty())
    throw Error(Errc::invalid_argument, "--cert and --key go together; pass both or neither");
  c.client_id = o.id;
  c.keepalive = static_cast<std::uint16_t>(o.keepalive);
  c.clean_session = clean_session;
  if (!o.username.empty()) c.username = o.username;
  c.password = mqtt_password(o.username, o.password, o.password_file);
  c.timeout = std::chrono::milliseconds(static_cast<long long>(o.timeout * 1000));
  return c;
}

}  // namespace mqttpki::cli
