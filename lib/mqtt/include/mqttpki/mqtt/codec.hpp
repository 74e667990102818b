#pragma once
// Encoding and strictly validating decoding of MQTT 3.1.1 packets, and an incremental frame reader
// for byte streams that split or join packets at any boundary.

#include <mqttpki/mqtt/error.hpp>
#include <mqttpki/mqtt/packet.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

namespace mqttpki::mqtt {

// The largest remaining length the protocol can express (four bytes of 7 bits).
inline constexpr std::size_t max_remaining_length = 268'435'455;
// A whole packet: one type byte, four length bytes and the largest remaining length.
inline constexpr std::size_t max_packet_size_limit = 1 + 4 + max_remaining_length;

// A value or an error code (std::expected is C++23).
template <class T>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}                 // NOLINT: implicit
  Result(std::error_code error) : v_(std::in_place_index<1>, error) {}             // NOLINT: implicit
  Result(errc error) : v_(std::in_place_index<1>, make_error_code(error)) {}      // NOLINT: implicit

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  [[nodiscard]] T& value() & { return std::get<0>(v_); }
  [[nodiscard]] const T& value() const& { return std::get<0>(v_); }
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // The error; a default (success) error_code when there is a value.
  [[nodiscard]] std::error_code error() const noexcept {
    return v_.index() == 1 ? std::get<1>(v_) : std::error_code{};
  }

 private:
  std::variant<T, std::error_code> v_;
};

// Appends the encoded packet to `out`. Encoding trusts the caller: build valid packets
// (the decoder is where validation happens).
void encode_to(const Packet& packet, std::vector<std::uint8_t>& out);
[[nodiscard]] std::vector<std::uint8_t> encode(const Packet& packet);

struct DecodeOptions {
  std::size_t max_packet_size = max_packet_size_limit;  // whole packet, header included
};

// Decodes exactly one whole packet: `bytes` must hold the fixed header and the full body, nothing
// more (errc::incomplete if short, errc::trailing_bytes if longer).
[[nodiscard]] Result<Packet> decode(std::span<const std::uint8_t> bytes, DecodeOptions options = {});

// Decodes a packet body given its fixed header's first byte (type and flags).
[[nodiscard]] Result<Packet> decode_body(std::uint8_t first_byte, std::span<const std::uint8_t> body);

// Encodes a remaining length (1 to 4 bytes).
void encode_remaining_length(std::size_t length, std::vector<std::uint8_t>& out);

// MQTT UTF-8 string rules: well-formed UTF-8, no U+0000, no surrogates, no overlong forms, at most
// 65,535 bytes.
[[nodiscard]] bool valid_mqtt_utf8(std::string_view s) noexcept;

// Incremental framing: feed bytes as they arrive, then call next() until it yields no packet.
// The size limit is enforced as soon as the remaining length is known, before buffering the body.
// Errors are sticky: after one, the stream cannot be resynchronised and must be closed.
class FrameReader {
 public:
  explicit FrameReader(std::size_t max_packet_size = max_packet_size_limit) : max_packet_size_(max_packet_size) {}

  void feed(std::span<const std::uint8_t> bytes);
  // A packet, std::nullopt when more bytes are needed, or the (sticky) error.
  [[nodiscard]] Result<std::optional<Packet>> next();

  [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size() - start_; }
  // Memory held for buffering: none once everything buffered is consumed (an idle connection holds no
  // buffer, and none keeps the size of the largest packet it ever received).
  [[nodiscard]] std::size_t capacity() const noexcept { return buffer_.capacity(); }
  [[nodiscard]] std::error_code error() const noexcept { return error_; }

 private:
  std::size_t max_packet_size_;
  std::vector<std::uint8_t> buffer_;
  std::size_t start_ = 0;  // first unconsumed byte
  std::error_code error_;
};

}  // namespace mqttpki::mqtt
