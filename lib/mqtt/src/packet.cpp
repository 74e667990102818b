#include <mqttpki/mqtt/packet.hpp>
#include <mqttpki/text.hpp>

#include <fmt/format.h>

#include <ostream>

namespace mqttpki::mqtt {
namespace {

unsigned q(QoS qos) { return static_cast<unsigned>(qos); }

struct Printer {
  std::string operator()(const Connect& p) const {
    std::string s = fmt::format("CONNECT(client_id=\"{}\", clean_session={}, keep_alive={}", printable(p.client_id),
                                p.clean_session ? 1 : 0, p.keep_alive);
    if (p.protocol_name != "MQTT" || p.protocol_level != 4) {
      s += fmt::format(", protocol={}/{}", printable(p.protocol_name), p.protocol_level);
    }
    if (p.will) {
      s += fmt::format(", will=(topic=\"{}\", qos={}, retain={}, {} bytes)", printable(p.will->topic), q(p.will->qos),
                       p.will->retain ? 1 : 0, p.will->payload.size());
    }
    if (p.username) s += fmt::format(", username=\"{}\"", printable(*p.username));
    if (p.password) s += ", password=<redacted>";
    return s + ")";
  }
  std::string operator()(const ConnAck& p) const {
    return fmt::format("CONNACK(session_present={}, code={} {})", p.session_present ? 1 : 0,
                       static_cast<unsigned>(p.return_code), to_string(p.return_code));
  }
  std::string operator()(const Publish& p) const {
    std::string s = fmt::format("PUBLISH(qos={}", q(p.qos));
    if (p.qos != QoS::at_most_once) s += fmt::format(", id={}", p.packet_id);
    if (p.dup) s += ", dup";
    if (p.retain) s += ", retain";
    return s + fmt::format(", topic=\"{}\", {} bytes)", printable(p.topic), p.payload.size());
  }
  std::string operator()(const PubAck& p) const { return fmt::format("PUBACK(id={})", p.packet_id); }
  std::string operator()(const PubRec& p) const { return fmt::format("PUBREC(id={})", p.packet_id); }
  std::string operator()(const PubRel& p) const { return fmt::format("PUBREL(id={})", p.packet_id); }
  std::string operator()(const PubComp& p) const { return fmt::format("PUBCOMP(id={})", p.packet_id); }
  std::string operator()(const Subscribe& p) const {
    std::string s = fmt::format("SUBSCRIBE(id={}", p.packet_id);
    for (const auto& t : p.topics) s += fmt::format(", \"{}\" qos={}", printable(t.filter), q(t.qos));
    return s + ")";
  }
  std::string operator()(const SubAck& p) const {
    std::string s = fmt::format("SUBACK(id={}", p.packet_id);
    for (const auto c : p.return_codes) s += fmt::format(", 0x{:02x}", c);
    return s + ")";
  }
  std::string operator()(const Unsubscribe& p) const {
    std::string s = fmt::format("UNSUBSCRIBE(id={}", p.packet_id);
    for (const auto& f : p.filters) s += fmt::format(", \"{}\"", printable(f));
    return s + ")";
  }
  std::string operator()(const UnsubAck& p) const { return fmt::format("UNSUBACK(id={})", p.packet_id); }
  std::string operator()(const PingReq&) const { return "PINGREQ"; }
  std::string operator()(const PingResp&) const { return "PINGRESP"; }
  std::string operator()(const Disconnect&) const { return "DISCONNECT"; }
};

}  // namespace

PacketType packet_type(const Packet& packet) noexcept {
  return static_cast<PacketType>(packet.index() + 1);  // the variant lists types in wire order
}

const char* to_string(PacketType type) noexcept {
  switch (type) {
    case PacketType::connect: return "CONNECT";
    case PacketType::connack: return "CONNACK";
    case PacketType::publish: return "PUBLISH";
    case PacketType::puback: return "PUBACK";
    case PacketType::pubrec: return "PUBREC";
    case PacketType::pubrel: return "PUBREL";
    case PacketType::pubcomp: return "PUBCOMP";
    case PacketType::subscribe: return "SUBSCRIBE";
    case PacketType::suback: return "SUBACK";
    case PacketType::unsubscribe: return "UNSUBSCRIBE";
    case PacketType::unsuback: return "UNSUBACK";
    case PacketType::pingreq: return "PINGREQ";
    case PacketType::pingresp: return "PINGRESP";
    case PacketType::disconnect: return "DISCONNECT";
  }
  return "UNKNOWN";
}

const char* to_string(ConnectReturnCode code) noexcept {
  switch (code) {
    case ConnectReturnCode::accepted: return "accepted";
    case ConnectReturnCode::unacceptable_protocol_version: return "unacceptable protocol version";
    case ConnectReturnCode::identifier_rejected: return "identifier rejected";
    case ConnectReturnCode::server_unavailable: return "server unavailable";
    case ConnectReturnCode::bad_username_or_password: return "bad user name or password";
    case ConnectReturnCode::not_authorized: return "not authorized";
  }
  return "unknown";
}

std::string to_string(const Packet& packet) { return std::visit(Printer{}, packet); }

std::ostream& operator<<(std::ostream& os, const Packet& packet) { return os << to_string(packet); }
std::ostream& operator<<(std::ostream& os, const Connect& packet) { return os << Printer{}(packet); }
std::ostream& operator<<(std::ostream& os, const Publish& packet) { return os << Printer{}(packet); }

}  // namespace mqttpki::mqtt
