// mqttpki sub: subscribe and print messages, flags as in mosquitto_sub.

#include "command.hpp"
#include "mqtt_common.hpp"

#include <mqttpki/net/client.hpp>
#include <mqttpki/error.hpp>

#include <fmt/format.h>

#include <chrono>
#include <ostream>

namespace mqttpki::cli {
namespace {

class SubCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    add_mqtt_connection_options(app, conn_);
    app.add_option("-t,--topic", filters_, "Topic filter to subscribe to (repeatable; + and # wildcards)")
        ->required()
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_option("-q,--qos", qos_, "Requested quality of service: 0, 1 or 2")
        ->check(CLI::Range(0, 2))
        ->capture_default_str();
    app.add_option("-C,--count", count_, "Exit after receiving COUNT messages")->check(CLI::PositiveNumber);
    app.add_flag("-v,--verbose", verbose_, "Print 'topic payload' instead of the payload alone");
    app.add_flag("-c,--disable-clean-session", persistent_,
                 "Keep the session (subscriptions, queued QoS 1/2 messages) while disconnected; use with -i");
    app.add_option("-W,--wait", wait_,
                   "Give up after SECS seconds (with -C: an error if fewer messages arrived)")
        ->check(CLI::PositiveNumber);
    app.footer(
        "Example:\n  mqttpki sub -h localhost -t 'sensors/#' -v -C 1 --cafile ca.crt --cert pi1.crt --key pi1.key\n"
        "Prints 'subscribed to FILTER' on stderr once the broker acknowledged the subscription.");
  }

  int run(Context& ctx) override {
    if (persistent_ && conn_.id.empty())
      throw Error(Errc::invalid_argument, "-c (keep the session) needs a stable client id: add -i ID");
    net::Client client(to_client_options(conn_, !persistent_));
    client.connect();
    std::vector<std::pair<std::string, std::uint8_t>> subs;
    for (const auto& f : filters_) subs.emplace_back(f, static_cast<std::uint8_t>(qos_));
    auto granted = client.subscribe(subs);
    for (std::size_t i = 0; i < subs.size(); ++i) {
      std::uint8_t g = i < granted.size() ? granted[i] : 0x80;
      if (g == 0x80)
        throw Error(Errc::network, fmt::format("broker refused the subscription to '{}' (SUBACK 0x80)", subs[i].first));
      ctx.err << fmt::format("subscribed to {} (QoS {})\n", subs[i].first, g) << std::flush;
    }
    using Clock = std::chrono::steady_clock;
    const bool bounded = wait_ > 0;
    const auto end = Clock::now() + std::chrono::milliseconds(static_cast<long long>(wait_ * 1000));
    int received = 0;
    while (count_ == 0 || received < count_) {
      auto slice = std::chrono::milliseconds(1000);
      if (bounded) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
        if (left.count() <= 0) {
          client.disconnect();
          if (count_ > 0)
            throw Error(Errc::network, fmt::format("timed out after {} s with {} of {} messages (-W)", wait_,
                                                   received, count_));
          return 0;
        }
        slice = std::min(slice, left);
      }
      auto m = client.receive(slice);
      if (!m) continue;
      ++received;
      if (verbose_) ctx.out << m->topic << ' ';
      ctx.out << m->payload_string() << '\n' << std::flush;
    }
    client.disconnect();
    return 0;
  }

 private:
  MqttConnectionOptions conn_;
  std::vector<std::string> filters_;
  int qos_ = 0;
  int count_ = 0;
  bool verbose_ = false;
  bool persistent_ = false;
  double wait_ = 0;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(SubCommand, "sub", 130, "Subscribe and print messages over TLS (flags as in mosquitto_sub)")

}  // namespace mqttpki::cli
