#pragma once
// An application message as the broker keeps it: the payload is shared between the retained store
// and every subscriber's queue instead of being copied per subscriber.

#include <mqttpki/mqtt/packet.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mqttpki::mqtt {

using Payload = std::shared_ptr<const std::vector<std::uint8_t>>;

struct Message {
  std::string topic;
  Payload payload;
  QoS qos = QoS::at_most_once;
  bool retain = false;
};

[[nodiscard]] inline Payload make_payload(std::vector<std::uint8_t> bytes) {
  return std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
}

}  // namespace mqttpki::mqtt
