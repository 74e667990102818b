#include <mqttpki/mqtt/error.hpp>

namespace mqttpki::mqtt {
namespace {

class Category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "mqtt"; }
  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::incomplete: return "incomplete packet";
      case errc::malformed_remaining_length: return "malformed remaining length";
      case errc::packet_too_large: return "packet larger than the maximum packet size";
      case errc::invalid_packet_type: return "invalid packet type";
      case errc::invalid_fixed_header_flags: return "invalid fixed header flags";
      case errc::invalid_packet_length: return "packet length does not match its fields";
      case errc::trailing_bytes: return "unexpected bytes after the last field";
      case errc::invalid_protocol_name: return "protocol name is not MQTT";
      case errc::unsupported_protocol_level: return "unsupported protocol level (only MQTT 3.1.1, level 4)";
      case errc::invalid_connect_flags: return "CONNECT reserved flag is set";
      case errc::invalid_will_flags: return "inconsistent will flags";
      case errc::password_without_username: return "password given without a user name";
      case errc::invalid_utf8: return "invalid UTF-8 string";
      case errc::invalid_topic_name: return "invalid topic name";
      case errc::invalid_topic_filter: return "invalid topic filter";
      case errc::invalid_qos: return "invalid QoS";
      case errc::zero_packet_id: return "packet identifier 0";
      case errc::empty_subscribe: return "SUBSCRIBE without topic filters";
      case errc::empty_unsubscribe: return "UNSUBSCRIBE without topic filters";
      case errc::invalid_connack: return "invalid CONNACK";
      case errc::invalid_suback_code: return "invalid SUBACK return code";
    }
    return "unknown mqtt error";
  }
};

}  // namespace

const std::error_category& mqtt_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), mqtt_category()}; }

}  // namespace mqttpki::mqtt
