// mqttpki broker: the bundled TLS MQTT 3.1.1 broker, configured by flags or a Mosquitto config file.

#include "command.hpp"

#include <mqttpki/net/broker.hpp>
#include <mqttpki/error.hpp>

#include <fmt/format.h>

#include <chrono>
#include <ostream>

namespace mqttpki::cli {
namespace {

constexpr const char* kFooter = R"(Authentication:
  A client whose certificate was verified on a require_certificate listener is authenticated, with no
  username needed (unlike Mosquitto 2.0, which still asks for a username or allow_anonymous there).
  Other clients are anonymous: allowed with --allow-anonymous / 'allow_anonymous true', and otherwise
  only on a listener bound to a loopback address. Every refusal is logged with the setting that would
  change it.
Config file (--config, Mosquitto syntax): listener PORT [ADDRESS], cafile, certfile, keyfile, crlfile,
  tls_version tlsv1.2|tlsv1.3 (minimum), require_certificate, use_identity_as_username,
  allow_anonymous, per_listener_settings, max_connections (before any listener: the whole broker; in a
  listener block: that listener), max_queued_messages (per client, QoS 1/2 messages queued beyond those in
  flight; default 1000; 0: no limit), max_inflight_messages (default 20), port (the default listener),
  message_size_limit (largest PUBLISH payload; larger ones are acknowledged and dropped; 0: MQTT's maximum),
  allow_zero_length_clientid, use_username_as_clientid (the session is named by the user name, with
  use_identity_as_username the certificate's CN: one identity cannot take over another's session),
  persistent_client_expiration (e.g. 14d), max_handshakes_per_address (not Mosquitto's; default 64),
  comments. 'listener PORT' without an address binds all IPv4 interfaces (0.0.0.0), as Mosquitto does.
Access (Mosquitto 2.0 syntax and meaning): password_file FILE (as mosquitto_passwd writes it; a wrong or
  unknown user gets CONNACK 4), acl_file FILE (user, topic, pattern with %u/%c); with either on a listener,
  allow_anonymous defaults to false there. Check an ACL with 'mqttpki verify --broker ... --topic T'.
Signals: SIGHUP reloads certfile, keyfile, cafile and crlfile for new connections (connected clients
  stay; a failed reload keeps the old ones), and password_file and acl_file (the ACL applies to connected
  clients at once); SIGINT/SIGTERM stop.
Example:
  mqttpki broker --cafile ca.crt --certfile server.crt --keyfile server.key --require-certificate)";

class BrokerCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("--config", config_file_, "Mosquitto-syntax configuration file (instead of listener flags)");
    app.add_option("--port", port_, "TLS listener port (0: an ephemeral port)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    app.add_option("--bind", bind_, "Address to listen on")->capture_default_str();
    app.add_option("--cafile", listener_.cafile, "CA certificate that signs client certificates");
    app.add_option("--certfile", listener_.certfile, "Server certificate (PEM, chain allowed)");
    app.add_option("--keyfile", listener_.keyfile, "Server private key (unencrypted PEM)");
    app.add_flag("--require-certificate", listener_.require_certificate,
                 "Clients must present a certificate signed by --cafile");
    app.add_option("--crlfile", listener_.crlfile, "CRL (PEM) of --cafile; revoked client certificates are refused");
    app.add_flag("--use-identity-as-username", listener_.use_identity_as_username,
                 "Use the client certificate's CN as the MQTT username");
    app.add_flag("--allow-anonymous", allow_anonymous_, "Allow clients without a verified certificate");
    app.add_option("--plain-port", plain_port_, "Also listen without TLS on this port (on --bind)")
        ->check(CLI::Range(0, 65535));
    app.add_option("--max-connections", max_connections_, "Most simultaneous connections")
        ->check(CLI::PositiveNumber);
    app.add_option("--max-handshakes-per-address", max_handshakes_per_address_,
                   "Connections from one address that have not sent an MQTT packet yet; a further one closes the "
                   "oldest (default 64)")
        ->check(CLI::PositiveNumber);
    app.add_option("--tls-version", tls_version_, "Minimum TLS version of the TLS listener: tlsv1.2 or tlsv1.3")
        ->check(CLI::IsMember({"tlsv1.2", "tlsv1.3"}))
        ->capture_default_str();
    app.add_option("--handshake-timeout", handshake_timeout_s_,
                   "Seconds a new connection gets to finish its TLS handshake")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    app.add_option("--connect-timeout", connect_timeout_s_, "Seconds a client gets to send CONNECT after the handshake")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    app.add_flag("-v,--verbose", verbose_, "Log more per connection");
    app.footer(kFooter);
  }

  int run(Context& ctx) override {
    net::BrokerOptions options;
    if (!config_file_.empty()) {
      if (!listener_.certfile.empty() || !listener_.keyfile.empty() || !listener_.cafile.empty() || plain_port_ >= 0 ||
          tls_version_ != "tlsv1.2")
        throw Error(Errc::invalid_argument,
                    "--config and the listener flags (--certfile, --keyfile, --cafile, --plain-port, --tls-version) exclude each "
                    "other; put the listener in the config file");
      options.config = net::load_mosquitto_config(config_file_);
    } else {
      if (listener_.certfile.empty() && plain_port_ < 0)
        throw Error(Errc::invalid_argument,
                    "no listener: pass --certfile and --keyfile (TLS), --plain-port N, or --config FILE");
      if (listener_.require_certificate && listener_.cafile.empty())
        throw Error(Errc::invalid_argument,
                    "--require-certificate needs --cafile: the CA certificate that signs client certificates");
      if (!listener_.certfile.empty() || !listener_.keyfile.empty()) {
        net::ListenerConfig tls = listener_;
        tls.tls_version = tls_version_ == "tlsv1.3" ? net::TlsVersion::tls1_3 : net::TlsVersion::tls1_2;
        tls.port = static_cast<std::uint16_t>(port_);
        tls.address = bind_;
        options.config.listeners.push_back(tls);
      }
      if (plain_port_ >= 0) {
        net::ListenerConfig plain;
        plain.port = static_cast<std::uint16_t>(plain_port_);
        plain.address = bind_;
        options.config.listeners.push_back(plain);
      }
    }
    if (allow_anonymous_) {
      options.config.allow_anonymous = true;
      for (auto& l : options.config.listeners) l.allow_anonymous = true;
    }
    if (max_connections_ > 0) options.config.max_connections = static_cast<std::size_t>(max_connections_);
    if (max_handshakes_per_address_ > 0)
      options.config.max_handshakes_per_address = static_cast<std::size_t>(max_handshakes_per_address_);
    options.handshake_timeout = std::chrono::seconds(handshake_timeout_s_);
    options.connect_timeout = std::chrono::seconds(connect_timeout_s_);
    options.handle_signals = true;
    options.verbose = verbose_;
    net::Broker broker(std::move(options));
    for (const auto& l : broker.start()) ctx.out << "listening on " << l.describe() << '\n';
    ctx.out.flush();
    broker.run();
    return 0;
  }

 private:
  std::string config_file_;
  int port_ = 8883;
  std::string bind_ = "127.0.0.1";
  net::ListenerConfig listener_;
  bool allow_anonymous_ = false;
  int plain_port_ = -1;
  long long max_connections_ = 0;
  long long max_handshakes_per_address_ = 0;
  std::string tls_version_ = "tlsv1.2";
  int handshake_timeout_s_ = 10;
  int connect_timeout_s_ = 10;
  bool verbose_ = false;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(BrokerCommand, "broker", 110, "Run the bundled TLS MQTT 3.1.1 broker")

}  // namespace mqttpki::cli
