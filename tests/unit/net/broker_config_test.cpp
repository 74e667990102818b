#include <mqttpki/net/broker_config.hpp>
#include <mqttpki/error.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace mqttpki::net;

namespace {

// The seed guide's /etc/mosquitto/conf.d/TLSconfig.conf, verbatim apart from the paths.
const char* const kSeedConfig = R"(# Local MQTT
listener 1883

# Secure MQTT
listener 8883
## This is standard and should always be this
cafile   /home/pi/mqtt/certs/ca.crt
## These are from your installation of LE
certfile /home/pi/mqtt/certs/server_mqtt.crt
keyfile  /home/pi/mqtt/certs/server_mqtt.key
## Forces use of modern version of TLS to avoid security issues
tls_version tlsv1.2
## Force all clients in this listener to provide a valid certificate
require_certificate true
## Stop all unauthorised connections
#allow_anonymous false
## Use password file
#password_file /etc/mosquitto/passwordfile
)";

std::string error_of(const std::string& text) {
  try {
    parse_mosquitto_config(text, "broker.conf");
  } catch (const mqttpki::Error& e) {
    CHECK(e.code() == mqttpki::Errc::invalid_argument);
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("the seed guide's TLSconfig.conf loads as is", "[config]") {
  auto c = parse_mosquitto_config(kSeedConfig, "TLSconfig.conf");
  REQUIRE(c.listeners.size() == 2);
  const auto& plain = c.listeners[0];
  CHECK(plain.port == 1883);
  CHECK(plain.address.empty());
  CHECK(plain.bind_address() == "0.0.0.0");  // as Mosquitto: all interfaces
  CHECK_FALSE(plain.tls());
  CHECK(plain.line == 2);
  CHECK(plain.name() == "plain:1883");
  const auto& tls = c.listeners[1];
  CHECK(tls.port == 8883);
  CHECK(tls.tls());
  CHECK(tls.cafile == "/home/pi/mqtt/certs/ca.crt");
  CHECK(tls.certfile == "/home/pi/mqtt/certs/server_mqtt.crt");
  CHECK(tls.keyfile == "/home/pi/mqtt/certs/server_mqtt.key");
  CHECK(tls.tls_version == TlsVersion::tls1_2);
  CHECK(tls.require_certificate);
  CHECK(tls.line == 5);
  CHECK(tls.name() == "tls:8883");
  CHECK_FALSE(c.allow_anonymous.has_value());
  CHECK(c.source == "TLSconfig.conf");
  // allow_anonymous unset and all interfaces: anonymous clients are refused on both listeners
  CHECK_FALSE(c.anonymous_allowed(plain));
  CHECK_FALSE(c.anonymous_allowed(tls));
}

TEST_CASE("every supported directive", "[config]") {
  auto c = parse_mosquitto_config(
      "per_listener_settings true\r\n"
      "max_connections 50\n"
      "max_queued_messages 5000\n"
      "max_inflight_messages 0\n"
      "  listener 8884 127.0.0.1\n"
      "\tcafile ca dir/ca.crt  \n"
      "certfile s.crt\n"
      "keyfile s.key\n"
      "crlfile crl.pem\n"
      "tls_version tlsv1.3\n"
      "require_certificate true\n"
      "use_identity_as_username true\n"
      "allow_anonymous false\n"
      "listener 1884 ::1\n"
      "allow_anonymous true\n",
      "x.conf");
  CHECK(c.per_listener_settings);
  CHECK(c.max_connections == 50);
  CHECK(c.max_queued_messages == std::size_t{5000});
  CHECK(c.max_inflight_messages == std::uint16_t{0});
  REQUIRE(c.listeners.size() == 2);
  const auto& a = c.listeners[0];
  CHECK(a.address == "127.0.0.1");
  CHECK(a.cafile == "ca dir/ca.crt");  // the rest of the line, as Mosquitto reads paths
  CHECK(a.certfile == "s.crt");
  CHECK(a.keyfile == "s.key");
  CHECK(a.crlfile == "crl.pem");
  CHECK(a.tls_version == TlsVersion::tls1_3);
  CHECK(a.require_certificate);
  CHECK(a.use_identity_as_username);
  CHECK(a.allow_anonymous == false);
  CHECK_FALSE(c.anonymous_allowed(a));  // explicit false wins over loopback
  const auto& b = c.listeners[1];
  CHECK(b.address == "::1");
  CHECK(b.allow_anonymous == true);
  CHECK(c.anonymous_allowed(b));
}

TEST_CASE("allow_anonymous is global without per_listener_settings", "[config]") {
  auto c = parse_mosquitto_config("listener 1883 10.0.0.1\nlistener 1884\nallow_anonymous true\n", "x.conf");
  CHECK(c.allow_anonymous == true);
  CHECK(c.anonymous_allowed(c.listeners[0]));
  CHECK(c.anonymous_allowed(c.listeners[1]));
}

TEST_CASE("anonymous clients default to allowed only on loopback listeners", "[config]") {
  auto c = parse_mosquitto_config(
      "listener 1 127.0.0.1\nlistener 2 ::1\nlistener 3 localhost\nlistener 4 192.168.1.2\nlistener 5\n", "x.conf");
  CHECK(c.anonymous_allowed(c.listeners[0]));
  CHECK(c.anonymous_allowed(c.listeners[1]));
  CHECK(c.anonymous_allowed(c.listeners[2]));
  CHECK_FALSE(c.anonymous_allowed(c.listeners[3]));
  CHECK_FALSE(c.anonymous_allowed(c.listeners[4]));
  CHECK(is_loopback_address("127.0.0.53"));
  CHECK_FALSE(is_loopback_address("0.0.0.0"));
}

TEST_CASE("comments, blank lines and an empty file", "[config]") {
  CHECK(parse_mosquitto_config("", "x.conf").listeners.empty());
  CHECK(parse_mosquitto_config("\n\n   \n# listener 1\n\t# x\n", "x.conf").listeners.empty());
  CHECK(parse_mosquitto_config("listener 1883", "x.conf").listeners.size() == 1);  // no final newline
}

TEST_CASE("an unsupported directive names the file, the line and the directive", "[config]") {
  CHECK(error_of("listener 1883\n\n#c\nauth_plugin /usr/lib/auth.so\n").starts_with(
      "broker.conf:4: unsupported directive 'auth_plugin'"));
  CHECK(error_of("log_dest stdout\n").starts_with("broker.conf:1: unsupported directive 'log_dest'"));
}

TEST_CASE("bad values are one-line errors with the line number and the fix", "[config]") {
  CHECK(error_of("listener 1883\ntls_version tlsv1.1\n") ==
        "broker.conf:2: tls_version tlsv1.1 is below the TLS 1.2 minimum; use tlsv1.2 or tlsv1.3");
  CHECK(error_of("listener 1883\ntls_version sslv3\n") ==
        "broker.conf:2: unknown tls_version 'sslv3'; use tlsv1.2 or tlsv1.3");
  CHECK(error_of("cafile ca.crt\n") ==
        "broker.conf:1: 'cafile' must follow a 'listener PORT' line; add one above it");
  CHECK(error_of("listener 1883\nrequire_certificate yes\n") ==
        "broker.conf:2: 'require_certificate' takes true or false, not 'yes'");
  CHECK(error_of("listener 70000\n") == "broker.conf:1: listener port '70000' is not a number from 0 to 65535");
  CHECK(error_of("listener abc\n") == "broker.conf:1: listener port 'abc' is not a number from 0 to 65535");
  CHECK(error_of("listener\n") == "broker.conf:1: 'listener' needs a value");
  CHECK(error_of("listener 1 a b\n") == "broker.conf:1: 'listener' takes PORT [ADDRESS]");
  CHECK(error_of("listener 1\nper_listener_settings true\n") ==
        "broker.conf:2: 'per_listener_settings' must come before the first 'listener' line");
  CHECK(error_of("max_connections lots\n") == "broker.conf:1: max_connections 'lots' is not a number");
  CHECK(error_of("max_queued_messages -1\n") == "broker.conf:1: max_queued_messages '-1' must be 0 (no limit) or more");
  CHECK(error_of("max_inflight_messages 70000\n") ==
        "broker.conf:1: max_inflight_messages '70000' must be from 0 (no limit) to 65535");
  CHECK(error_of("max_inflight_messages x\n") == "broker.conf:1: max_inflight_messages 'x' is not a number");
}

TEST_CASE("validate names the listener and the fix", "[config]") {
  auto message = [](const std::string& text) -> std::string {
    try {
      validate(parse_mosquitto_config(text, "b.conf"));
    } catch (const mqttpki::Error& e) {
      return e.what();
    }
    return "valid";
  };
  CHECK(message("") == "b.conf: no listener configured; add 'listener 8883' (or --port)");
  CHECK(message("listener 1883 127.0.0.1\n") == "valid");
  CHECK(message("listener 8883\ncertfile /nonexistent/s.crt\n") ==
        "b.conf:1: listener 8883 has certfile but no keyfile; a TLS listener needs both");
  CHECK(message("listener 8883\nrequire_certificate true\n").find("has TLS settings but no certfile/keyfile") !=
        std::string::npos);
  CHECK(message("listener 8883\ncertfile /nonexistent/s.crt\nkeyfile /nonexistent/s.key\n")
            .find("cannot read certfile /nonexistent/s.crt") != std::string::npos);
}

TEST_CASE("a config file that cannot be read is not_found", "[config]") {
  try {
    load_mosquitto_config("/nonexistent/mosquitto.conf");
    FAIL("expected an error");
  } catch (const mqttpki::Error& e) {
    CHECK(e.code() == mqttpki::Errc::not_found);
    CHECK(std::string(e.what()).starts_with("cannot read config file /nonexistent/mosquitto.conf"));
  }
}

// Mosquitto directives that configs in the wild use, with Mosquitto's meaning (issue 13).
TEST_CASE("a listener allowed more connections than the default total raises the total", "[config]") {
  // Mosquitto has no broker-wide cap: `max_connections 5000` in a listener block must not stop at our 1,000.
  auto c = parse_mosquitto_config("listener 8883\nmax_connections 5000\n", "x.conf");
  CHECK(c.listeners[0].max_connections == std::size_t{5000});
  CHECK(c.max_connections >= std::size_t{5000});
  auto unlimited = parse_mosquitto_config("listener 8883\nmax_connections -1\n", "x.conf");
  CHECK(unlimited.max_connections >= std::size_t{1000000});
  auto fewer = parse_mosquitto_config("listener 8883\nmax_connections 20\n", "x.conf");
  CHECK(fewer.max_connections == std::size_t{1000});  // the default total stays
}

TEST_CASE("Mosquitto's general directives", "[config]") {
  auto c = parse_mosquitto_config(
      "port 1883\n"
      "max_connections 500\n"
      "message_size_limit 1048576\n"
      "allow_zero_length_clientid false\n"
      "use_username_as_clientid true\n"
      "persistent_client_expiration 14d\n"
      "max_handshakes_per_address 8\n"
      "listener 8883\n"
      "max_connections 20\n"
      "certfile s.crt\n"
      "keyfile s.key\n",
      "x.conf");
  REQUIRE(c.listeners.size() == 2);
  CHECK(c.listeners[0].port == 1883);  // the default listener, on all interfaces
  CHECK(c.listeners[0].address.empty());
  CHECK_FALSE(c.listeners[0].max_connections.has_value());
  CHECK(c.max_connections == 500);  // before any listener: the whole broker
  CHECK(c.listeners[1].port == 8883);
  CHECK(c.listeners[1].max_connections == std::size_t{20});  // in a listener block: that listener
  CHECK(c.listeners[1].certfile == "s.crt");
  CHECK(c.message_size_limit == std::size_t{1048576});
  CHECK_FALSE(c.allow_zero_length_clientid);
  CHECK(c.use_username_as_clientid);
  CHECK(c.persistent_client_expiration == std::chrono::hours(24 * 14));
  CHECK(c.max_handshakes_per_address == 8);
}

TEST_CASE("port after a listener adds the default listener without taking its directives", "[config]") {
  auto c = parse_mosquitto_config("listener 8883 127.0.0.1\nport 1884\nrequire_certificate true\n", "x.conf");
  REQUIRE(c.listeners.size() == 2);
  CHECK(c.listeners[0].port == 1884);
  CHECK_FALSE(c.listeners[0].require_certificate);
  CHECK(c.listeners[1].require_certificate);
}

TEST_CASE("persistent_client_expiration units and bad values", "[config]") {
  auto expiry = [](const std::string& v) {
    return parse_mosquitto_config("persistent_client_expiration " + v + "\n", "x.conf").persistent_client_expiration;
  };
  CHECK(expiry("3600") == std::chrono::hours(1));
  CHECK(expiry("2h") == std::chrono::hours(2));
  CHECK(expiry("1w") == std::chrono::hours(24 * 7));
  CHECK(expiry("1m") == std::chrono::hours(24 * 30));
  CHECK(expiry("1y") == std::chrono::hours(24 * 365));
  CHECK(error_of("persistent_client_expiration soon\n") ==
        "broker.conf:1: persistent_client_expiration 'soon' is not a duration; use e.g. 14d, 2h, 1w, 1m or 1y");
  CHECK(error_of("message_size_limit -1\n") ==
        "broker.conf:1: message_size_limit '-1' must be from 0 (no limit) to 268435455");
  CHECK(error_of("allow_zero_length_clientid maybe\n") ==
        "broker.conf:1: 'allow_zero_length_clientid' takes true or false, not 'maybe'");
  CHECK(error_of("max_handshakes_per_address 0\n") == "broker.conf:1: max_handshakes_per_address '0' must be 1 or more");
  CHECK(error_of("port\n") == "broker.conf:1: 'port' needs a value");
}
