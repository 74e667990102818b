#pragma once
// MQTT 3.1.1 control packets as plain value types. Encoding and validating decoding live in codec.hpp.
// Field names follow the specification (OASIS MQTT 3.1.1, section 3).

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace mqttpki::mqtt {

enum class QoS : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

enum class PacketType : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
};

struct Will {
  std::string topic;
  std::vector<std::uint8_t> payload;
  QoS qos = QoS::at_most_once;
  bool retain = false;
  friend bool operator==(const Will&, const Will&) = default;
};

struct Connect {
  // Decoding accepts "MQTT" level 4 and MQTT 3.1's "MQIsdp" level 3 (is_mqtt31()); other values exist so that
  // tests and clients can build them.
  std::string protocol_name = "MQTT";
  std::uint8_t protocol_level = 4;
  bool clean_session = true;
  std::uint16_t keep_alive = 60;  // seconds, 0 = disabled
  std::string client_id;
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<std::vector<std::uint8_t>> password;  // never printed
  [[nodiscard]] bool is_mqtt31() const noexcept { return protocol_level == 3 && protocol_name == "MQIsdp"; }
  friend bool operator==(const Connect&, const Connect&) = default;
};

enum class ConnectReturnCode : std::uint8_t {
  accepted = 0,
  unacceptable_protocol_version = 1,
  identifier_rejected = 2,
  server_unavailable = 3,
  bad_username_or_password = 4,
  not_authorized = 5,
};

struct ConnAck {
  bool session_present = false;
  ConnectReturnCode return_code = ConnectReturnCode::accepted;
  friend bool operator==(const ConnAck&, const ConnAck&) = default;
};

struct Publish {
  bool dup = false;
  QoS qos = QoS::at_most_once;
  bool retain = false;
  std::string topic;
  std::uint16_t packet_id = 0;  // present on the wire only for QoS 1 and 2
  std::vector<std::uint8_t> payload;
  friend bool operator==(const Publish&, const Publish&) = default;
};

struct PubAck {
  std::uint16_t packet_id = 0;
  friend bool operator==(const PubAck&, const PubAck&) = default;
};
struct PubRec {
  std::uint16_t packet_id = 0;
  friend bool operator==(const PubRec&, const PubRec&) = default;
};
struct PubRel {
  std::uint16_t packet_id = 0;
  friend bool operator==(const PubRel&, const PubRel&) = default;
};
struct PubComp {
  std::uint16_t packet_id = 0;
  friend bool operator==(const PubComp&, const PubComp&) = default;
};

struct SubscribeTopic {
  std::string filter;
  QoS qos = QoS::at_most_once;
  friend bool operator==(const SubscribeTopic&, const SubscribeTopic&) = default;
};

struct Subscribe {
  std::uint16_t packet_id = 0;
  std::vector<SubscribeTopic> topics;  // at least one
  friend bool operator==(const Subscribe&, const Subscribe&) = default;
};

// SUBACK return codes: the granted QoS (0, 1, 2) or 0x80 for failure.
inline constexpr std::uint8_t suback_failure = 0x80;

struct SubAck {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> return_codes;
  friend bool operator==(const SubAck&, const SubAck&) = default;
};

struct Unsubscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::string> filters;  // at least one
  friend bool operator==(const Unsubscribe&, const Unsubscribe&) = default;
};

struct UnsubAck {
  std::uint16_t packet_id = 0;
  friend bool operator==(const UnsubAck&, const UnsubAck&) = default;
};

struct PingReq {
  friend bool operator==(const PingReq&, const PingReq&) = default;
};
struct PingResp {
  friend bool operator==(const PingResp&, const PingResp&) = default;
};
struct Disconnect {
  friend bool operator==(const Disconnect&, const Disconnect&) = default;
};

using Packet = std::variant<Connect, ConnAck, Publish, PubAck, PubRec, PubRel, PubComp, Subscribe, SubAck,
                            Unsubscribe, UnsubAck, PingReq, PingResp, Disconnect>;

[[nodiscard]] PacketType packet_type(const Packet& packet) noexcept;
[[nodiscard]] const char* to_string(PacketType type) noexcept;
[[nodiscard]] const char* to_string(ConnectReturnCode code) noexcept;

// One-line debug form, e.g. `PUBLISH(qos=1, id=7, topic="a/b", 5 bytes)`. Passwords are shown as
// "<redacted>" and payloads only by size: safe for logs.
[[nodiscard]] std::string to_string(const Packet& packet);
std::ostream& operator<<(std::ostream& os, const Packet& packet);
std::ostream& operator<<(std::ostream& os, const Connect& packet);
std::ostream& operator<<(std::ostream& os, const Publish& packet);

}  // namespace mqttpki::mqtt
