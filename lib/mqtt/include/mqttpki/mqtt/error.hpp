#pragma once
// Protocol errors as std::error_code values (no exceptions on the hot path).

#include <string>
#include <system_error>

namespace mqttpki::mqtt {

enum class errc {
  incomplete = 1,                // more bytes are needed (decode() on a partial packet)
  malformed_remaining_length,    // more than four bytes, or above 268,435,455
  packet_too_large,              // above the configured maximum packet size
  invalid_packet_type,           // type 0 or 15
  invalid_fixed_header_flags,    // reserved flag bits of the fixed header are wrong
  invalid_packet_length,         // fixed-size packet of the wrong size, or fields overrun the packet
  trailing_bytes,                // bytes left after the last field
  invalid_protocol_name,         // CONNECT protocol name is not "MQTT"
  unsupported_protocol_level,    // CONNECT protocol level is not 4: answer CONNACK 1, then close
  invalid_connect_flags,         // CONNECT reserved flag bit set
  invalid_will_flags,            // will QoS/retain set without the will flag, or will QoS 3
  password_without_username,     // CONNECT password flag without the user name flag
  invalid_utf8,                  // ill-formed UTF-8, U+0000, surrogate or overlong encoding
  invalid_topic_name,            // empty, or contains '+' or '#'
  invalid_topic_filter,          // empty, or a wildcard in the wrong place
  invalid_qos,                   // QoS 3
  zero_packet_id,                // packet identifier 0 where one is required
  empty_subscribe,               // SUBSCRIBE without any topic filter
  empty_unsubscribe,             // UNSUBSCRIBE without any topic filter
  invalid_connack,               // CONNACK reserved bits or return code out of range
  invalid_suback_code,           // SUBACK return code other than 0, 1, 2, 0x80
};

[[nodiscard]] const std::error_category& mqtt_category() noexcept;
[[nodiscard]] std::error_code make_error_code(errc e) noexcept;

}  // namespace mqttpki::mqtt

template <>
struct std::is_error_code_enum<mqttpki::mqtt::errc> : std::true_type {};
