// Codec: encodings compared against bytes written out field by field from the MQTT 3.1.1 spec,
// round trips, and one test per validation rule of the decoder.
#include <mqttpki/mqtt/codec.hpp>

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

using namespace mqttpki::mqtt;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes b(const std::string& s) { return {s.begin(), s.end()}; }

Packet must_decode(const Bytes& bytes) {
  auto r = decode(bytes);
  INFO("error: " << r.error().message());
  REQUIRE(r.has_value());
  return r.value();
}

std::error_code decode_error(const Bytes& bytes, DecodeOptions options = {}) {
  auto r = decode(bytes, options);
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

void round_trip(const Packet& p, const Bytes& expected) {
  CHECK(encode(p) == expected);
  CHECK(must_decode(expected) == p);
}

}  // namespace

TEST_CASE("CONNECT with will, user name and password encodes field by field", "[codec]") {
  Connect c;
  c.client_id = "c1";
  c.keep_alive = 60;
  c.clean_session = true;
  c.will = Will{"w/t", b("bye"), QoS::at_least_once, true};
  c.username = "u";
  c.password = b("pw");
  const Bytes expected = {
      0x10, 31,                      // CONNECT, remaining length 31
      0x00, 0x04, 'M', 'Q', 'T', 'T',  // protocol name
      0x04,                          // protocol level 4
      0xEE,                          // flags: user 0x80 | password 0x40 | will retain 0x20 | will QoS1 0x08
                                     //        | will 0x04 | clean session 0x02
      0x00, 0x3C,                    // keep alive 60
      0x00, 0x02, 'c', '1',          // client id
      0x00, 0x03, 'w', '/', 't',     // will topic
      0x00, 0x03, 'b', 'y', 'e',     // will message
      0x00, 0x01, 'u',               // user name
      0x00, 0x02, 'p', 'w',          // password
  };
  round_trip(c, expected);
}

TEST_CASE("minimal CONNECT with empty client id", "[codec]") {
  Connect c;
  c.keep_alive = 0;
  const Bytes expected = {
      0x10, 12,                        // CONNECT, remaining length 12
      0x00, 0x04, 'M', 'Q', 'T', 'T',  // protocol name
      0x04,                            // level
      0x02,                            // clean session
      0x00, 0x00,                      // keep alive 0
      0x00, 0x00,                      // empty client id
  };
  round_trip(c, expected);
}

TEST_CASE("a CONNECT's printed form never shows the password", "[codec]") {
  Connect c;
  c.client_id = "dev";
  c.username = "alice";
  c.password = b("s3cret-pa55");
  std::ostringstream os;
  os << c;
  const std::string s1 = os.str();
  const std::string s2 = to_string(Packet{c});
  CHECK(s1.find("s3cret") == std::string::npos);
  CHECK(s2.find("s3cret") == std::string::npos);
  CHECK(s2.find("<redacted>") != std::string::npos);
  CHECK(s2.find("alice") != std::string::npos);
}

TEST_CASE("CONNACK, PUBACK family, UNSUBACK and empty packets", "[codec]") {
  round_trip(ConnAck{true, ConnectReturnCode::accepted}, {0x20, 0x02, 0x01, 0x00});
  round_trip(ConnAck{false, ConnectReturnCode::not_authorized}, {0x20, 0x02, 0x00, 0x05});
  round_trip(PubAck{0x1234}, {0x40, 0x02, 0x12, 0x34});
  round_trip(PubRec{7}, {0x50, 0x02, 0x00, 0x07});
  round_trip(PubRel{7}, {0x62, 0x02, 0x00, 0x07});  // PUBREL flags 0b0010
  round_trip(PubComp{7}, {0x70, 0x02, 0x00, 0x07});
  round_trip(UnsubAck{9}, {0xB0, 0x02, 0x00, 0x09});
  round_trip(PingReq{}, {0xC0, 0x00});
  round_trip(PingResp{}, {0xD0, 0x00});
  round_trip(Disconnect{}, {0xE0, 0x00});
}

TEST_CASE("PUBLISH QoS 0 and QoS 2 with dup and retain", "[codec]") {
  Publish p0;
  p0.topic = "a/b";
  p0.payload = b("hi");
  round_trip(p0, {
                     0x30, 7,                   // PUBLISH, QoS 0, remaining 7
                     0x00, 0x03, 'a', '/', 'b',  // topic
                     'h', 'i',                   // payload (no packet id at QoS 0)
                 });
  Publish p2;
  p2.dup = true;
  p2.qos = QoS::exactly_once;
  p2.retain = true;
  p2.topic = "t";
  p2.packet_id = 10;
  round_trip(p2, {
                     0x3D, 5,          // PUBLISH | dup 0x08 | QoS2 0x04 | retain 0x01
                     0x00, 0x01, 't',  // topic
                     0x00, 0x0A,       // packet id 10, empty payload
                 });
}

TEST_CASE("SUBSCRIBE, SUBACK, UNSUBSCRIBE", "[codec]") {
  Subscribe s{1, {{"a/+", QoS::at_least_once}, {"#", QoS::exactly_once}}};
  round_trip(s, {
                    0x82, 12,                        // SUBSCRIBE, flags 0b0010
                    0x00, 0x01,                      // packet id
                    0x00, 0x03, 'a', '/', '+', 0x01,  // filter, QoS 1
                    0x00, 0x01, '#', 0x02,           // filter, QoS 2
                });
  round_trip(SubAck{1, {0x01, 0x80}}, {0x90, 0x04, 0x00, 0x01, 0x01, 0x80});
  round_trip(Unsubscribe{2, {"a/+"}}, {
                                          0xA2, 7,                   // UNSUBSCRIBE, flags 0b0010
                                          0x00, 0x02,                // packet id
                                          0x00, 0x03, 'a', '/', '+',  // filter
                                      });
}

TEST_CASE("remaining length uses 1 to 4 bytes", "[codec]") {
  auto rl = [](std::size_t n) {
    Bytes out;
    encode_remaining_length(n, out);
    return out;
  };
  CHECK(rl(0) == Bytes{0x00});
  CHECK(rl(127) == Bytes{0x7F});
  CHECK(rl(128) == Bytes{0x80, 0x01});
  CHECK(rl(16383) == Bytes{0xFF, 0x7F});
  CHECK(rl(16384) == Bytes{0x80, 0x80, 0x01});
  CHECK(rl(2097152) == Bytes{0x80, 0x80, 0x80, 0x01});
  CHECK(rl(268435455) == Bytes{0xFF, 0xFF, 0xFF, 0x7F});

  Publish big;
  big.topic = "t";
  big.payload.assign(200, 0xAB);
  auto bytes = encode(big);
  CHECK(bytes[1] == 0xCB);  // 203 = 0x4B | continuation
  CHECK(bytes[2] == 0x01);
  CHECK(must_decode(bytes) == Packet{big});
}

// ----------------------------------------------------------------------------------------------
// Malformed input: one test per rule.

TEST_CASE("malformed: remaining length longer than four bytes", "[codec][malformed]") {
  CHECK(decode_error({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}) == errc::malformed_remaining_length);
}

TEST_CASE("malformed: packet above the maximum size is refused from its header alone", "[codec][malformed]") {
  // Header announces 268,435,455 bytes but none follow: refused without waiting or allocating.
  CHECK(decode_error({0x30, 0xFF, 0xFF, 0xFF, 0x7F}, DecodeOptions{1024}) == errc::packet_too_large);
  Bytes ok = encode(Publish{false, QoS::at_most_once, false, "t", 0, Bytes(10, 1)});
  CHECK(decode(ok, DecodeOptions{ok.size()}).has_value());
  CHECK(decode_error(ok, DecodeOptions{ok.size() - 1}) == errc::packet_too_large);
}

TEST_CASE("malformed: incomplete and trailing bytes", "[codec][malformed]") {
  CHECK(decode_error({0x30}) == errc::incomplete);
  CHECK(decode_error({0x30, 0x80}) == errc::incomplete);
  CHECK(decode_error({0x40, 0x02, 0x00}) == errc::incomplete);
  CHECK(decode_error({0xC0, 0x00, 0x00}) == errc::trailing_bytes);
}

TEST_CASE("malformed: packet types 0 and 15", "[codec][malformed]") {
  CHECK(decode_error({0x00, 0x00}) == errc::invalid_packet_type);
  CHECK(decode_error({0xF0, 0x00}) == errc::invalid_packet_type);
}

TEST_CASE("malformed: reserved fixed header flags", "[codec][malformed]") {
  CHECK(decode_error({0x60, 0x02, 0x00, 0x01}) == errc::invalid_fixed_header_flags);  // PUBREL needs 0b0010
  CHECK(decode_error({0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00}) == errc::invalid_fixed_header_flags);
  CHECK(decode_error({0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, 'a'}) == errc::invalid_fixed_header_flags);
  CHECK(decode_error({0x41, 0x02, 0x00, 0x01}) == errc::invalid_fixed_header_flags);  // PUBACK needs 0
  CHECK(decode_error({0xC1, 0x00}) == errc::invalid_fixed_header_flags);
  CHECK(decode_error({0x18, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, 0}) == errc::invalid_fixed_header_flags);
}

TEST_CASE("malformed: fixed-size packets must be exactly their size", "[codec][malformed]") {
  CHECK(decode_error({0x40, 0x03, 0x00, 0x01, 0x00}) == errc::invalid_packet_length);  // PUBACK of 3
  CHECK(decode_error({0x40, 0x01, 0x00}) == errc::invalid_packet_length);
  CHECK(decode_error({0xC0, 0x01, 0x00}) == errc::invalid_packet_length);  // PINGREQ with a body
  CHECK(decode_error({0xE0, 0x01, 0x00}) == errc::invalid_packet_length);  // DISCONNECT with a body
  CHECK(decode_error({0x20, 0x03, 0x00, 0x00, 0x00}) == errc::invalid_packet_length);
  CHECK(decode_error({0xB0, 0x00}) == errc::invalid_packet_length);
}

TEST_CASE("malformed: protocol name and level", "[codec][malformed]") {
  CHECK(decode_error({0x10, 12, 0, 4, 'M', 'Q', 'T', 'X', 4, 2, 0, 0, 0, 0}) == errc::invalid_protocol_name);
  CHECK(decode_error({0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 3, 2, 0, 0, 0, 0}) == errc::unsupported_protocol_level);
  CHECK(decode_error({0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 0, 0, 0}) == errc::unsupported_protocol_level);
  // MQTT 3.1's "MQIsdp" is decoded at level 3 only (the broker applies its rules); other levels get CONNACK 1.
  CHECK(decode_error({0x10, 14, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 4, 2, 0, 0, 0, 0}) ==
        errc::unsupported_protocol_level);
  auto v31 = decode(std::vector<std::uint8_t>{0x10, 16, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 2, 0, 0, 0, 2, 'i', 'd'});
  REQUIRE(v31.has_value());
  CHECK(std::get<Connect>(*v31).is_mqtt31());
  CHECK(std::get<Connect>(*v31).client_id == "id");
}

TEST_CASE("malformed: CONNECT reserved flag bit", "[codec][malformed]") {
  CHECK(decode_error({0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x03, 0, 0, 0, 0}) == errc::invalid_connect_flags);
}

TEST_CASE("malformed: will flags inconsistent", "[codec][malformed]") {
  // will QoS 1 without the will flag
  CHECK(decode_error({0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x0A, 0, 0, 0, 0}) == errc::invalid_will_flags);
  // will retain without the will flag
  CHECK(decode_error({0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x22, 0, 0, 0, 0}) == errc::invalid_will_flags);
  // will QoS 3
  CHECK(decode_error({0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x1E, 0, 0, 0, 0, 0, 1, 't', 0, 1, 'x', 0}) ==
        errc::invalid_will_flags);
}

TEST_CASE("malformed: will topic with a wildcard", "[codec][malformed]") {
  CHECK(decode_error({0x10, 17, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x06, 0, 0, 0, 0, 0, 1, '#', 0, 0}) ==
        errc::invalid_topic_name);
}

TEST_CASE("malformed: password without user name", "[codec][malformed]") {
  CHECK(decode_error({0x10, 15, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x42, 0, 0, 0, 0, 0, 1, 'p'}) ==
        errc::password_without_username);
}

TEST_CASE("malformed: CONNECT fields overrun the packet", "[codec][malformed]") {
  // user name flag set but no user name follows
  CHECK(decode_error({0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x82, 0, 0, 0, 0}) == errc::invalid_packet_length);
  // client id length 5 but 1 byte
  CHECK(decode_error({0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, 0, 5, 'a'}) == errc::invalid_packet_length);
}

TEST_CASE("malformed: UTF-8 strings", "[codec][malformed]") {
  CHECK(valid_mqtt_utf8("plain/ascii"));
  CHECK(valid_mqtt_utf8("\xC3\xA9t\xC3\xA9"));           // été
  CHECK(valid_mqtt_utf8("\xF0\x9F\x98\x80"));            // U+1F600
  CHECK(valid_mqtt_utf8("\xEF\xBB\xBF"));                // U+FEFF is allowed
  CHECK_FALSE(valid_mqtt_utf8(std::string_view("a\0b", 3)));  // U+0000
  CHECK_FALSE(valid_mqtt_utf8("\xED\xA0\x80"));          // U+D800 surrogate
  CHECK_FALSE(valid_mqtt_utf8("\xC0\xAF"));              // overlong '/'
  CHECK_FALSE(valid_mqtt_utf8("\xE0\x80\xAF"));          // overlong 3-byte
  CHECK_FALSE(valid_mqtt_utf8("\xF0\x80\x80\xAF"));      // overlong 4-byte
  CHECK_FALSE(valid_mqtt_utf8("\xF4\x90\x80\x80"));      // above U+10FFFF
  CHECK_FALSE(valid_mqtt_utf8("\x80"));                  // lone continuation
  CHECK_FALSE(valid_mqtt_utf8("\xC3"));                  // truncated
  CHECK_FALSE(valid_mqtt_utf8("\xFF"));
  // In a packet: PUBLISH topic with U+0000, client id with a surrogate.
  CHECK(decode_error({0x30, 0x05, 0x00, 0x03, 'a', 0x00, 'b'}) == errc::invalid_utf8);
  CHECK(decode_error({0x10, 15, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, 3, 0xED, 0xA0, 0x80}) == errc::invalid_utf8);
}

TEST_CASE("malformed: PUBLISH topic with wildcards or empty", "[codec][malformed]") {
  CHECK(decode_error({0x30, 0x05, 0x00, 0x03, 'a', '/', '+'}) == errc::invalid_topic_name);
  CHECK(decode_error({0x30, 0x05, 0x00, 0x03, 'a', '/', '#'}) == errc::invalid_topic_name);
  CHECK(decode_error({0x30, 0x02, 0x00, 0x00}) == errc::invalid_topic_name);
}

TEST_CASE("malformed: invalid topic filters in SUBSCRIBE and UNSUBSCRIBE", "[codec][malformed]") {
  CHECK(decode_error({0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 'a', '#', 'b', 0x00}) == errc::invalid_topic_filter);
  CHECK(decode_error({0x82, 0x08, 0x00, 0x01, 0x00, 0x03, '#', '/', 'a', 0x00}) == errc::invalid_topic_filter);
  CHECK(decode_error({0x82, 0x07, 0x00, 0x01, 0x00, 0x02, 'a', '+', 0x00}) == errc::invalid_topic_filter);
  CHECK(decode_error({0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00}) == errc::invalid_topic_filter);  // empty
  CHECK(decode_error({0xA2, 0x06, 0x00, 0x01, 0x00, 0x02, 'a', '#'}) == errc::invalid_topic_filter);
}

TEST_CASE("malformed: QoS 3", "[codec][malformed]") {
  CHECK(decode_error({0x36, 0x05, 0x00, 0x01, 't', 0x00, 0x01}) == errc::invalid_qos);  // PUBLISH QoS 3
  CHECK(decode_error({0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x03}) == errc::invalid_qos);
  CHECK(decode_error({0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x41}) == errc::invalid_qos);  // reserved bits
}

TEST_CASE("malformed: DUP on a QoS 0 PUBLISH", "[codec][malformed]") {
  CHECK(decode_error({0x38, 0x03, 0x00, 0x01, 't'}) == errc::invalid_fixed_header_flags);
}

TEST_CASE("malformed: packet identifier 0", "[codec][malformed]") {
  CHECK(decode_error({0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00}) == errc::zero_packet_id);
  CHECK(decode_error({0x40, 0x02, 0x00, 0x00}) == errc::zero_packet_id);
  CHECK(decode_error({0x62, 0x02, 0x00, 0x00}) == errc::zero_packet_id);
  CHECK(decode_error({0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 'a', 0x00}) == errc::zero_packet_id);
  CHECK(decode_error({0xA2, 0x05, 0x00, 0x00, 0x00, 0x01, 'a'}) == errc::zero_packet_id);
}

TEST_CASE("malformed: SUBSCRIBE and UNSUBSCRIBE need at least one filter", "[codec][malformed]") {
  CHECK(decode_error({0x82, 0x02, 0x00, 0x01}) == errc::empty_subscribe);
  CHECK(decode_error({0xA2, 0x02, 0x00, 0x01}) == errc::empty_unsubscribe);
  // a filter without its QoS byte
  CHECK(decode_error({0x82, 0x05, 0x00, 0x01, 0x00, 0x01, 'a'}) == errc::invalid_packet_length);
}

TEST_CASE("malformed: CONNACK and SUBACK values", "[codec][malformed]") {
  CHECK(decode_error({0x20, 0x02, 0x02, 0x00}) == errc::invalid_connack);
  CHECK(decode_error({0x20, 0x02, 0x00, 0x06}) == errc::invalid_connack);
  CHECK(decode_error({0x20, 0x02, 0x01, 0x05}) == errc::invalid_connack);
  CHECK(decode_error({0x90, 0x03, 0x00, 0x01, 0x03}) == errc::invalid_suback_code);
}

TEST_CASE("errors have readable messages in the mqtt category", "[codec]") {
  std::error_code e = errc::packet_too_large;
  CHECK(e.category().name() == std::string("mqtt"));
  CHECK(e.message() == "packet larger than the maximum packet size");
}

// ----------------------------------------------------------------------------------------------
// FrameReader

TEST_CASE("FrameReader yields the same packets at every split point", "[codec][frame]") {
  Connect c;
  c.client_id = "split";
  c.will = Will{"w", b("x"), QoS::exactly_once, false};
  std::vector<Packet> packets = {
      c,
      Publish{false, QoS::at_least_once, true, "a/b", 3, b("payload")},
      Subscribe{4, {{"x/#", QoS::exactly_once}}},
      PingReq{},
      PubRel{3},
      Disconnect{},
  };
  Bytes stream;
  for (const auto& p : packets) encode_to(p, stream);

  for (std::size_t split = 0; split <= stream.size(); ++split) {
    FrameReader reader;
    std::vector<Packet> got;
    auto drain = [&] {
      while (true) {
        auto r = reader.next();
        REQUIRE(r.has_value());
        if (!r.value()) break;
        got.push_back(std::move(*r.value()));
      }
    };
    reader.feed(std::span(stream).first(split));
    drain();
    reader.feed(std::span(stream).subspan(split));
    drain();
    INFO("split at " << split);
    CHECK(got == packets);
    CHECK(reader.buffered() == 0);
  }
}

TEST_CASE("FrameReader byte by byte", "[codec][frame]") {
  Bytes stream = encode(Publish{false, QoS::at_most_once, false, "t", 0, Bytes(300, 7)});
  encode_to(PingResp{}, stream);
  FrameReader reader;
  std::vector<Packet> got;
  for (auto byte : stream) {
    reader.feed(std::span(&byte, 1));
    auto r = reader.next();
    REQUIRE(r.has_value());
    if (r.value()) got.push_back(*r.value());
  }
  REQUIRE(got.size() == 2);
  CHECK(std::get<Publish>(got[0]).payload.size() == 300);
  CHECK(std::holds_alternative<PingResp>(got[1]));
}

TEST_CASE("FrameReader gives back its buffer once everything buffered is consumed", "[codec][frame]") {
  FrameReader reader;
  Bytes big = encode(Publish{false, QoS::at_most_once, false, "t", 0, Bytes(200 * 1024, 7)});
  reader.feed(std::span(big).first(big.size() / 2));
  REQUIRE_FALSE(reader.next().value());  // incomplete: all of it is held
  CHECK(reader.capacity() >= big.size() / 2);
  reader.feed(std::span(big).subspan(big.size() / 2));
  auto r = reader.next();
  REQUIRE(r.has_value());
  REQUIRE(r.value());
  CHECK(std::get<Publish>(*r.value()).payload.size() == 200 * 1024);  // the packet owns its payload
  CHECK(reader.buffered() == 0);
  CHECK(reader.capacity() == 0);
  // small packets too: an idle connection holds no buffer at all
  Bytes two = encode(PingReq{});
  Bytes ping = two;
  two.insert(two.end(), ping.begin(), ping.end());
  reader.feed(two);
  REQUIRE(reader.next().value());
  CHECK(reader.buffered() == ping.size());  // the second one is still buffered
  REQUIRE(reader.next().value());
  CHECK(reader.capacity() == 0);
  REQUIRE_FALSE(reader.next().value());
}

TEST_CASE("FrameReader refuses an oversized packet from the header, before the body", "[codec][frame]") {
  FrameReader reader(100);
  const Bytes header = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
  reader.feed(header);
  CHECK(reader.error() == errc::packet_too_large);
  CHECK(reader.buffered() == 0);
  auto r = reader.next();
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::packet_too_large);
}

TEST_CASE("FrameReader errors are sticky", "[codec][frame]") {
  FrameReader reader;
  const Bytes bad = {0x40, 0x02, 0x00, 0x00};  // PUBACK id 0
  reader.feed(bad);
  auto r = reader.next();
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::zero_packet_id);
  const Bytes good = {0xC0, 0x00};
  reader.feed(good);
  CHECK(reader.next().error() == errc::zero_packet_id);
}

TEST_CASE("FrameReader rejects a five-byte remaining length as soon as it is seen", "[codec][frame]") {
  FrameReader reader;
  const Bytes bad = {0x30, 0x80, 0x80, 0x80, 0x80};
  reader.feed(bad);
  CHECK(reader.error() == errc::malformed_remaining_length);
}

TEST_CASE("printed packets are one line even with control characters", "[codec]") {
  Publish p;
  p.topic = "a\nb";
  CHECK(to_string(Packet{p}) == "PUBLISH(qos=0, topic=\"a\\x0Ab\", 0 bytes)");
  Connect c;
  c.client_id = "x\r";
  c.username = "u\n";
  CHECK(to_string(Packet{c}) ==
        "CONNECT(client_id=\"x\\x0D\", clean_session=1, keep_alive=60, username=\"u\\x0A\")");
}
