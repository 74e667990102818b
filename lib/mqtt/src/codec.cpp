#include <mqttpki/mqtt/codec.hpp>
#include <mqttpki/mqtt/topic.hpp>

#include <algorithm>
#include <string_view>

namespace mqttpki::mqtt {
namespace {

// ---------------------------------------------------------------------------------------------
// Encoding

std::uint8_t u8(unsigned v) { return static_cast<std::uint8_t>(v & 0xFFu); }

void put_u16(std::vector<std::uint8_t>& out, std::size_t v) {
  out.push_back(u8(static_cast<unsigned>(v >> 8)));
  out.push_back(u8(static_cast<unsigned>(v)));
}

void put_bytes(std::vector<std::uint8_t>& out, const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  out.insert(out.end(), p, p + size);
}

void put_string(std::vector<std::uint8_t>& out, std::string_view s) {
  put_u16(out, s.size());
  put_bytes(out, s.data(), s.size());
}

void put_binary(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& b) {
  put_u16(out, b.size());
  put_bytes(out, b.data(), b.size());
}

unsigned qos_bits(QoS q) { return static_cast<unsigned>(q); }

struct RemainingLength {
  std::size_t operator()(const Connect& p) const {
    std::size_t n = 2 + p.protocol_name.size() + 1 + 1 + 2 + 2 + p.client_id.size();
    if (p.will) n += 2 + p.will->topic.size() + 2 + p.will->payload.size();
    if (p.username) n += 2 + p.username->size();
    if (p.password) n += 2 + p.password->size();
    return n;
  }
  std::size_t operator()(const ConnAck&) const { return 2; }
  std::size_t operator()(const Publish& p) const {
    return 2 + p.topic.size() + (p.qos == QoS::at_most_once ? 0 : 2) + p.payload.size();
  }
  std::size_t operator()(const PubAck&) const { return 2; }
  std::size_t operator()(const PubRec&) const { return 2; }
  std::size_t operator()(const PubRel&) const { return 2; }
  std::size_t operator()(const PubComp&) const { return 2; }
  std::size_t operator()(const Subscribe& p) const {
    std::size_t n = 2;
    for (const auto& t : p.topics) n += 2 + t.filter.size() + 1;
    return n;
  }
  std::size_t operator()(const SubAck& p) const { return 2 + p.return_codes.size(); }
  std::size_t operator()(const Unsubscribe& p) const {
    std::size_t n = 2;
    for (const auto& f : p.filters) n += 2 + f.size();
    return n;
  }
  std::size_t operator()(const UnsubAck&) const { return 2; }
  std::size_t operator()(const PingReq&) const { return 0; }
  std::size_t operator()(const PingResp&) const { return 0; }
  std::size_t operator()(const Disconnect&) const { return 0; }
};

struct BodyWriter {
  std::vector<std::uint8_t>& out;

  void operator()(const Connect& p) const {
    put_string(out, p.protocol_name);
    out.push_back(p.protocol_level);
    unsigned flags = 0;
    if (p.clean_session) flags |= 0x02u;
    if (p.will) {
      flags |= 0x04u | (qos_bits(p.will->qos) << 3);
      if (p.will->retain) flags |= 0x20u;
    }
    if (p.password) flags |= 0x40u;
    if (p.username) flags |= 0x80u;
    out.push_back(u8(flags));
    put_u16(out, p.keep_alive);
    put_string(out, p.client_id);
    if (p.will) {
      put_string(out, p.will->topic);
      put_binary(out, p.will->payload);
    }
    if (p.username) put_string(out, *p.username);
    if (p.password) put_binary(out, *p.password);
  }
  void operator()(const ConnAck& p) const {
    out.push_back(p.session_present ? 1 : 0);
    out.push_back(static_cast<std::uint8_t>(p.return_code));
  }
  void operator()(const Publish& p) const {
    put_string(out, p.topic);
    if (p.qos != QoS::at_most_once) put_u16(out, p.packet_id);
    put_bytes(out, p.payload.data(), p.payload.size());
  }
  void operator()(const PubAck& p) const { put_u16(out, p.packet_id); }
  void operator()(const PubRec& p) const { put_u16(out, p.packet_id); }
  void operator()(const PubRel& p) const { put_u16(out, p.packet_id); }
  void operator()(const PubComp& p) const { put_u16(out, p.packet_id); }
  void operator()(const Subscribe& p) const {
    put_u16(out, p.packet_id);
    for (const auto& t : p.topics) {
      put_string(out, t.filter);
      out.push_back(static_cast<std::uint8_t>(t.qos));
    }
  }
  void operator()(const SubAck& p) const {
    put_u16(out, p.packet_id);
    put_bytes(out, p.return_codes.data(), p.return_codes.size());
  }
  void operator()(const Unsubscribe& p) const {
    put_u16(out, p.packet_id);
    for (const auto& f : p.filters) put_string(out, f);
  }
  void operator()(const UnsubAck& p) const { put_u16(out, p.packet_id); }
  void operator()(const PingReq&) const {}
  void operator()(const PingResp&) const {}
  void operator()(const Disconnect&) const {}
};

std::uint8_t first_byte(const Packet& packet) {
  const unsigned type = static_cast<unsigned>(packet_type(packet)) << 4;
  if (const auto* p = std::get_if<Publish>(&packet)) {
    return u8(type | (p->dup ? 0x08u : 0u) | (qos_bits(p->qos) << 1) | (p->retain ? 0x01u : 0u));
  }
  if (std::holds_alternative<PubRel>(packet) || std::holds_alternative<Subscribe>(packet) ||
      std::holds_alternative<Unsubscribe>(packet)) {
    return u8(type | 0x02u);
  }
  return u8(type);
}

// ---------------------------------------------------------------------------------------------
// Decoding

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> body) : body_(body) {}

  [[nodiscard]] std::size_t left() const { return body_.size() - pos_; }
  [[nodiscard]] bool done() const { return pos_ == body_.size(); }

  bool u8(std::uint8_t& v) {
    if (left() < 1) return false;
    v = body_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (left() < 2) return false;
    v = static_cast<std::uint16_t>((body_[pos_] << 8) | body_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  // Length-prefixed bytes, as a view into the body.
  bool bytes(std::span<const std::uint8_t>& v) {
    std::uint16_t n = 0;
    if (!u16(n) || left() < n) return false;
    v = body_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  std::span<const std::uint8_t> rest() {
    auto r = body_.subspan(pos_);
    pos_ = body_.size();
    return r;
  }

 private:
  std::span<const std::uint8_t> body_;
  std::size_t pos_ = 0;
};

std::string_view as_chars(std::span<const std::uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Reads a length-prefixed UTF-8 string; returns the error or success.
errc read_string(Reader& r, std::string& out) {
  std::span<const std::uint8_t> b;
  if (!r.bytes(b)) return errc::invalid_packet_length;
  const std::string_view s = as_chars(b);
  if (!valid_mqtt_utf8(s)) return errc::invalid_utf8;
  out.assign(s);
  return errc{};
}

std::vector<std::uint8_t> to_vector(std::span<const std::uint8_t> b) { return {b.begin(), b.end()}; }

Result<Packet> decode_connect(Reader& r) {
  Connect c;
  std::span<const std::uint8_t> name;
  if (!r.bytes(name)) return errc::invalid_packet_length;
  std::uint8_t level = 0;
  if (!r.u8(level)) return errc::invalid_packet_length;
  const std::string_view name_sv = as_chars(name);
  // MQTT 3.1.1 ("MQTT", level 4) and MQTT 3.1 ("MQIsdp", level 3, still spoken by old devices; the broker
  // applies its client id rules); other levels get CONNACK 1 rather than silence.
  if (name_sv != "MQTT" && name_sv != "MQIsdp") return errc::invalid_protocol_name;
  if (level != (name_sv == "MQTT" ? 4 : 3)) return errc::unsupported_protocol_level;
  c.protocol_name.assign(name_sv);
  c.protocol_level = level;

  std::uint8_t flags = 0;
  if (!r.u8(flags)) return errc::invalid_packet_length;
  if ((flags & 0x01u) != 0) return errc::invalid_connect_flags;
  c.clean_session = (flags & 0x02u) != 0;
  const bool will = (flags & 0x04u) != 0;
  const unsigned will_qos = (flags >> 3) & 0x03u;
  const bool will_retain = (flags & 0x20u) != 0;
  const bool password = (flags & 0x40u) != 0;
  const bool username = (flags & 0x80u) != 0;
  if (will_qos == 3) return errc::invalid_will_flags;
  if (!will && (will_qos != 0 || will_retain)) return errc::invalid_will_flags;
  if (password && !username) return errc::password_without_username;
  if (!r.u16(c.keep_alive)) return errc::invalid_packet_length;
  if (auto e = read_string(r, c.client_id); e != errc{}) return e;
  if (will) {
    Will w;
    w.qos = static_cast<QoS>(will_qos);
    w.retain = will_retain;
    if (auto e = read_string(r, w.topic); e != errc{}) return e;
    if (!valid_topic_name(w.topic)) return errc::invalid_topic_name;
    std::span<const std::uint8_t> payload;
    if (!r.bytes(payload)) return errc::invalid_packet_length;
    w.payload = to_vector(payload);
    c.will = std::move(w);
  }
  if (username) {
    std::string u;
    if (auto e = read_string(r, u); e != errc{}) return e;
    c.username = std::move(u);
  }
  if (password) {
    std::span<const std::uint8_t> pw;
    if (!r.bytes(pw)) return errc::invalid_packet_length;
    c.password = to_vector(pw);
  }
  if (!r.done()) return errc::trailing_bytes;
  return Packet{std::move(c)};
}

Result<Packet> decode_publish(std::uint8_t flags, Reader& r) {
  Publish p;
  p.dup = (flags & 0x08u) != 0;
  const unsigned qos = (flags >> 1) & 0x03u;
  if (qos == 3) return errc::invalid_qos;
  p.qos = static_cast<QoS>(qos);
  p.retain = (flags & 0x01u) != 0;
  if (p.dup && p.qos == QoS::at_most_once) return errc::invalid_fixed_header_flags;  // [MQTT-3.3.1-2]
  if (auto e = read_string(r, p.topic); e != errc{}) return e;
  if (!valid_topic_name(p.topic)) return errc::invalid_topic_name;
  if (p.qos != QoS::at_most_once) {
    if (!r.u16(p.packet_id)) return errc::invalid_packet_length;
    if (p.packet_id == 0) return errc::zero_packet_id;
  }
  p.payload = to_vector(r.rest());
  return Packet{std::move(p)};
}

template <class T>
Result<Packet> decode_id_only(Reader& r) {
  if (r.left() != 2) return errc::invalid_packet_length;
  T p;
  (void)r.u16(p.packet_id);
  if (p.packet_id == 0) return errc::zero_packet_id;
  return Packet{p};
}

Result<Packet> decode_subscribe(Reader& r) {
  Subscribe s;
  if (!r.u16(s.packet_id)) return errc::invalid_packet_length;
  if (s.packet_id == 0) return errc::zero_packet_id;
  while (!r.done()) {
    SubscribeTopic t;
    if (auto e = read_string(r, t.filter); e != errc{}) return e;
    if (!valid_topic_filter(t.filter)) return errc::invalid_topic_filter;
    std::uint8_t qos = 0;
    if (!r.u8(qos)) return errc::invalid_packet_length;
    if (qos > 2) return errc::invalid_qos;  // QoS 3 or reserved bits set
    t.qos = static_cast<QoS>(qos);
    s.topics.push_back(std::move(t));
  }
  if (s.topics.empty()) return errc::empty_subscribe;
  return Packet{std::move(s)};
}

Result<Packet> decode_suback(Reader& r) {
  SubAck s;
  if (!r.u16(s.packet_id)) return errc::invalid_packet_length;
  if (s.packet_id == 0) return errc::zero_packet_id;
  auto codes = r.rest();
  if (codes.empty()) return errc::invalid_packet_length;
  for (const std::uint8_t c : codes) {
    if (c > 2 && c != suback_failure) return errc::invalid_suback_code;
  }
  s.return_codes = to_vector(codes);
  return Packet{std::move(s)};
}

Result<Packet> decode_unsubscribe(Reader& r) {
  Unsubscribe u;
  if (!r.u16(u.packet_id)) return errc::invalid_packet_length;
  if (u.packet_id == 0) return errc::zero_packet_id;
  while (!r.done()) {
    std::string f;
    if (auto e = read_string(r, f); e != errc{}) return e;
    if (!valid_topic_filter(f)) return errc::invalid_topic_filter;
    u.filters.push_back(std::move(f));
  }
  if (u.filters.empty()) return errc::empty_unsubscribe;
  return Packet{std::move(u)};
}

Result<Packet> decode_connack(Reader& r) {
  if (r.left() != 2) return errc::invalid_packet_length;
  std::uint8_t flags = 0;
  std::uint8_t code = 0;
  (void)r.u8(flags);
  (void)r.u8(code);
  if ((flags & 0xFEu) != 0 || code > 5 || (code != 0 && flags != 0)) return errc::invalid_connack;
  return Packet{ConnAck{flags == 1, static_cast<ConnectReturnCode>(code)}};
}

template <class T>
Result<Packet> decode_empty(const Reader& r) {
  if (!r.done()) return errc::invalid_packet_length;
  return Packet{T{}};
}

// Fixed header: type/flags byte and remaining length. Returns the header size, or 0 with `error`
// set (errc::incomplete when more bytes are needed).
std::size_t parse_fixed_header(std::span<const std::uint8_t> bytes, std::size_t max_packet_size,
                               std::size_t& remaining, std::error_code& error) {
  remaining = 0;
  unsigned shift = 0;
  for (std::size_t i = 1; i <= 4; ++i) {
    if (bytes.size() <= i) {
      error = errc::incomplete;
      return 0;
    }
    const std::uint8_t b = bytes[i];
    remaining |= static_cast<std::size_t>(b & 0x7Fu) << shift;
    shift += 7;
    if ((b & 0x80u) == 0) {
      if (i + 1 + remaining > max_packet_size) {
        error = errc::packet_too_large;
        return 0;
      }
      return i + 1;
    }
  }
  error = errc::malformed_remaining_length;
  return 0;
}

}  // namespace

// -----------------------------------------------------------------------------------------------

void encode_remaining_length(std::size_t length, std::vector<std::uint8_t>& out) {
  do {
    unsigned b = static_cast<unsigned>(length % 128);
    length /= 128;
    if (length > 0) b |= 0x80u;
    out.push_back(u8(b));
  } while (length > 0);
}

void encode_to(const Packet& packet, std::vector<std::uint8_t>& out) {
  const std::size_t remaining = std::visit(RemainingLength{}, packet);
  out.reserve(out.size() + 5 + remaining);
  out.push_back(first_byte(packet));
  encode_remaining_length(remaining, out);
  std::visit(BodyWriter{out}, packet);
}

std::vector<std::uint8_t> encode(const Packet& packet) {
  std::vector<std::uint8_t> out;
  encode_to(packet, out);
  return out;
}

bool valid_mqtt_utf8(std::string_view s) noexcept {
  if (s.size() > 65535) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned lo = 0x80;
    unsigned hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates U+D800..U+DFFF
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;  // continuation byte as lead, C0/C1 overlongs, F5..FF
    }
    if (n - i < len) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

Result<Packet> decode_body(std::uint8_t first, std::span<const std::uint8_t> body) {
  const unsigned type = first >> 4;
  const unsigned flags = first & 0x0Fu;
  Reader r(body);
  if (type == 0 || type == 15) return errc::invalid_packet_type;
  const auto t = static_cast<PacketType>(type);
  if (t == PacketType::publish) return decode_publish(static_cast<std::uint8_t>(flags), r);
  const unsigned expected =
      (t == PacketType::pubrel || t == PacketType::subscribe || t == PacketType::unsubscribe) ? 0x02u : 0u;
  if (flags != expected) return errc::invalid_fixed_header_flags;
  switch (t) {
    case PacketType::connect: return decode_connect(r);
    case PacketType::connack: return decode_connack(r);
    case PacketType::publish: break;  // handled above
    case PacketType::puback: return decode_id_only<PubAck>(r);
    case PacketType::pubrec: return decode_id_only<PubRec>(r);
    case PacketType::pubrel: return decode_id_only<PubRel>(r);
    case PacketType::pubcomp: return decode_id_only<PubComp>(r);
    case PacketType::subscribe: return decode_subscribe(r);
    case PacketType::suback: return decode_suback(r);
    case PacketType::unsubscribe: return decode_unsubscribe(r);
    case PacketType::unsuback: return decode_id_only<UnsubAck>(r);
    case PacketType::pingreq: return decode_empty<PingReq>(r);
    case PacketType::pingresp: return decode_empty<PingResp>(r);
    case PacketType::disconnect: return decode_empty<Disconnect>(r);
  }
  return errc::invalid_packet_type;
}

Result<Packet> decode(std::span<const std::uint8_t> bytes, DecodeOptions options) {
  std::size_t remaining = 0;
  std::error_code error;
  const std::size_t header = parse_fixed_header(bytes, options.max_packet_size, remaining, error);
  if (header == 0) return error;
  if (bytes.size() < header + remaining) return errc::incomplete;
  if (bytes.size() > header + remaining) return errc::trailing_bytes;
  return decode_body(bytes[0], bytes.subspan(header, remaining));
}

void FrameReader::feed(std::span<const std::uint8_t> bytes) {
  if (error_) return;
  // Compact before growing so that a long-lived connection does not keep consumed bytes around.
  if (start_ > 0 && (start_ == buffer_.size() || start_ >= 4096)) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  // Reject an oversized or malformed header now, before the body is buffered.
  std::size_t remaining = 0;
  std::error_code e;
  const auto pending = std::span<const std::uint8_t>(buffer_).subspan(start_);
  if (!pending.empty() && parse_fixed_header(pending, max_packet_size_, remaining, e) == 0 &&
      e != errc::incomplete) {
    error_ = e;
    buffer_.clear();
    start_ = 0;
  }
}

Result<std::optional<Packet>> FrameReader::next() {
  if (error_) return error_;
  const auto pending = std::span<const std::uint8_t>(buffer_).subspan(start_);
  if (pending.empty()) return std::optional<Packet>{};
  std::size_t remaining = 0;
  std::error_code e;
  const std::size_t header = parse_fixed_header(pending, max_packet_size_, remaining, e);
  if (header == 0) {
    if (e == errc::incomplete) return std::optional<Packet>{};
    error_ = e;
    return error_;
  }
  if (pending.size() < header + remaining) return std::optional<Packet>{};
  auto packet = decode_body(pending[0], pending.subspan(header, remaining));
  start_ += header + remaining;
  if (start_ == buffer_.size()) {
    // Everything is consumed (`packet` owns copies): give the buffer back, so that an idle connection holds
    // none. A busy one pays an allocation per read, which is small next to the read itself.
    std::vector<std::uint8_t>().swap(buffer_);
    start_ = 0;
  }
  if (!packet) {
    error_ = packet.error();
    return error_;
  }
  return std::optional<Packet>{std::move(packet).value()};
}

}  // namespace mqttpki::mqtt
