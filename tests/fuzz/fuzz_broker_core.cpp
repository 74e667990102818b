// BrokerCore driven by a byte script: several connections opening, sending arbitrary bytes (each
// opens with a valid CONNECT so the fuzzer reaches the session logic), closing and ticking.
#include <mqttpki/mqtt/broker_core.hpp>
#include <mqttpki/mqtt/codec.hpp>

#include <cstdlib>
#include <set>
#include <string>

using namespace mqttpki::mqtt;

namespace {

struct NullOutput final : BrokerOutput {
  std::set<ConnectionId> closed;
  void send(ConnectionId id, std::vector<std::uint8_t> bytes) override {
    if (closed.count(id) != 0) std::abort();  // nothing may be sent after close
    if (decode(bytes).error()) std::abort();    // everything the core sends is a valid packet
  }
  void close(ConnectionId id, std::string_view) override { closed.insert(id); }
  void log(std::string_view) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  NullOutput out;
  BrokerLimits limits;
  limits.max_packet_size = 4096;
  limits.max_queued_messages = 8;
  limits.max_inflight = 4;
  limits.max_subscriptions_per_client = 8;
  limits.max_connections = 3;
  BrokerCore core(limits, out);
  Clock::time_point now{};
  ConnectionId next_id = 1;
  std::size_t i = 0;
  while (i + 2 <= size) {
    const std::uint8_t op = data[i];
    const std::size_t len = data[i + 1];
    i += 2;
    const ConnectionId target = 1 + (op >> 3) % 4;
    switch (op & 0x07u) {
      case 0: {  // open a connection and send a CONNECT shaped by the op byte
        if (next_id > 16) break;
        const ConnectionId id = next_id++;
        ConnectionInfo info;
        info.peer = "fuzz";
        info.certificate_authenticated = (op & 0x80u) == 0;
        core.on_open(id, info, now);
        Connect c;
        c.client_id = "c" + std::to_string(len % 3);
        c.clean_session = (len & 0x04u) != 0;
        c.keep_alive = static_cast<std::uint16_t>(len & 0x08u ? 2 : 0);
        if (len & 0x10u) c.will = Will{"w/" + std::to_string(len % 2), {1, 2}, static_cast<QoS>(len % 3), (len & 0x20u) != 0};
        const auto bytes = encode(c);
        core.on_bytes(id, bytes, now);
        break;
      }
      case 1:
      case 2:
      case 3: {  // raw bytes to a connection
        const std::size_t n = std::min(len, size - i);
        core.on_bytes(target, std::span(data + i, n), now);
        i += n;
        break;
      }
      case 4:
        core.on_close(target, now);
        break;
      case 5:
        now += std::chrono::milliseconds(len * 100);
        core.on_tick(now);
        break;
      default: {  // a well-formed packet from a small menu, to get past framing quickly
        Packet p = PingReq{};
        const auto id = static_cast<std::uint16_t>(1 + len % 4);
        const std::string topic = (len & 0x40u) ? "a/b" : "a/c";
        switch (len % 8) {
          case 0: p = Subscribe{id, {{(len & 0x20u) ? "a/+" : "#", static_cast<QoS>(len % 3)}}}; break;
          case 1: p = Publish{false, static_cast<QoS>(len % 3), (len & 0x80u) != 0, topic, id, {7}}; break;
          case 2: p = PubAck{id}; break;
          case 3: p = PubRec{id}; break;
          case 4: p = PubRel{id}; break;
          case 5: p = PubComp{id}; break;
          case 6: p = Unsubscribe{id, {"#"}}; break;
          default: p = Disconnect{}; break;
        }
        const auto bytes = encode(p);
        core.on_bytes(target, bytes, now);
        break;
      }
    }
  }
  const auto stats = core.stats();
  if (stats.connections > 16) std::abort();
  return 0;
}
