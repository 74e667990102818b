// mqttpki pub: publish one message (or one per stdin line) over TLS, flags as in mosquitto_pub.

#include "command.hpp"
#include "mqtt_common.hpp"

#include <mqttpki/net/client.hpp>
#include <mqttpki/error.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

namespace mqttpki::cli {
namespace {

class PubCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    add_mqtt_connection_options(app, conn_);
    app.add_option("-t,--topic", topic_, "Topic to publish to")->required();
    auto* m = app.add_option("-m,--message", message_, "Message payload");
    message_opt_ = m;
    auto* l = app.add_flag("-l,--stdin-line", lines_, "Publish one message per line read from stdin");
    auto* f = app.add_option("-f,--file", file_, "Publish the contents of FILE as one message");
    auto* n = app.add_flag("-n,--null-message", null_, "Publish an empty message");
    m->excludes(l, f, n);
    l->excludes(f, n);
    f->excludes(n);
    app.add_option("-q,--qos", qos_, "Quality of service: 0, 1 or 2")->check(CLI::Range(0, 2))->capture_default_str();
    app.add_flag("-r,--retain", retain_, "Ask the broker to retain the message");
    app.footer(
        "Example:\n  mqttpki pub -h localhost -t sensors/pi1 -m 21.5 -q 1 --cafile ca.crt --cert pi1.crt --key pi1.key");
  }

  int run(Context& ctx) override {
    if (message_.empty() && !lines_ && file_.empty() && !null_ && !message_given())
      throw Error(Errc::invalid_argument, "say what to publish: -m MSG, -l (stdin lines), -f FILE or -n (empty)");
    net::Client client(to_client_options(conn_, true));
    client.connect();
    auto q = static_cast<std::uint8_t>(qos_);
    if (lines_) {
      std::string line;
      std::size_t count = 0;
      while (std::getline(std::cin, line)) {
        client.publish(topic_, line, q, retain_);
        ++count;
      }
      ctx.err << fmt::format("published {} messages to {}\n", count, topic_);
    } else if (!file_.empty()) {
      std::ifstream in(file_, std::ios::binary);
      if (!in) throw Error(Errc::not_found, fmt::format("cannot read {}: {}; check -f", file_, std::strerror(errno)));
      std::vector<std::uint8_t> payload((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      client.publish(topic_, payload, q, retain_);
    } else {
      client.publish(topic_, null_ ? std::string() : message_, q, retain_);
    }
    client.disconnect();
    return 0;
  }

 private:
  bool message_given() const { return message_opt_ != nullptr && message_opt_->count() > 0; }
  CLI::Option* message_opt_ = nullptr;
  MqttConnectionOptions conn_;
  std::string topic_;
  std::string message_;
  bool lines_ = false;
  std::string file_;
  bool null_ = false;
  int qos_ = 0;
  bool retain_ = false;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(PubCommand, "pub", 120, "Publish an MQTT message over TLS (flags as in mosquitto_pub)")

}  // namespace mqttpki::cli
