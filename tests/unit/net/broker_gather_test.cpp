// The broker gathers what it sends a connection during one turn of its loop into one write (one TLS record):
// the same bytes in the same order as packet by packet, fewer records; a subscriber that does not read for a
// while still gets everything, in order, through the write queue (QoS 0 and QoS 1). The limit on queued bytes
// is tested in broker_client_test.cpp ("dropped, more than 262144 bytes waiting").
// The peers here are written with OpenSSL directly, so that the test decides how its packets are grouped into
// records and counts the records it receives.

#include "fixture.hpp"
#include "ossl.hpp"

#include <mqttpki/mqtt/codec.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <string>
#include <vector>

using namespace nettest;
namespace mqtt = mqttpki::mqtt;

namespace {

// A blocking mutual-TLS 1.3 MQTT peer; every wait is bounded by a 5 s receive timeout.
class RawPeer {
 public:
  RawPeer(std::uint16_t port, const std::string& client_id) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    REQUIRE(inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr) == 1);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval limit{5, 0};
    REQUIRE(setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == 0);
    SSL_CTX* ctx = ctx_.get();
    REQUIRE(ctx != nullptr);
    REQUIRE(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1);  // records carry an inner content type
    REQUIRE(SSL_CTX_load_verify_locations(ctx, cert("ca.crt").c_str(), nullptr) == 1);
    REQUIRE(SSL_CTX_use_certificate_file(ctx, cert("client.crt").c_str(), SSL_FILETYPE_PEM) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx, cert("client.key").c_str(), SSL_FILETYPE_PEM) == 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    ssl_.reset(SSL_new(ctx));
    SSL_set_msg_callback(ssl_.get(), &RawPeer::on_record);
    SSL_set_msg_callback_arg(ssl_.get(), this);
    REQUIRE(SSL_set_fd(ssl_.get(), fd_) == 1);
    REQUIRE(SSL_connect(ssl_.get()) == 1);
    mqtt::Connect connect;
    connect.client_id = client_id;
    write(mqtt::encode(connect));
    REQUIRE(std::holds_alternative<mqtt::ConnAck>(next()));
  }
  ~RawPeer() {
    ssl_.reset();
    ::close(fd_);
  }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  // One SSL_write: one TLS record for up to 16 KiB.
  void write(const std::vector<std::uint8_t>& bytes) {
    REQUIRE(SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size()));
  }

  mqtt::Packet next() {
    for (;;) {
      auto packet = reader_.next();
      REQUIRE(packet.has_value());
      if (packet->has_value()) return std::move(**packet);
      std::array<std::uint8_t, 16 * 1024> buf{};
      const int n = SSL_read(ssl_.get(), buf.data(), static_cast<int>(buf.size()));
      REQUIRE(n > 0);  // not within 5 s, or the broker closed the connection
      reader_.feed(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
    }
  }

  void subscribe(const std::string& filter, std::uint8_t qos) {
    mqtt::Subscribe s;
    s.packet_id = 1;
    s.topics.push_back(mqtt::SubscribeTopic{filter, static_cast<mqtt::QoS>(qos)});
    write(mqtt::encode(s));
    REQUIRE(std::holds_alternative<mqtt::SubAck>(next()));
  }

  // The next packet, which must be a PUBLISH of `topic` with `payload` (acknowledged when QoS 1).
  void expect_publish(const std::string& topic, const std::string& payload) {
    auto packet = next();
    REQUIRE(std::holds_alternative<mqtt::Publish>(packet));
    const auto& p = std::get<mqtt::Publish>(packet);
    REQUIRE(p.topic == topic);
    REQUIRE(std::string(p.payload.begin(), p.payload.end()) == payload);
    if (p.qos == mqtt::QoS::at_least_once) write(mqtt::encode(mqtt::PubAck{p.packet_id}));
  }

  std::size_t records = 0;  // application-data records received

 private:
  static void on_record(int write_p, int /*version*/, int content_type, const void* buf, std::size_t len, SSL* /*ssl*/,
                        void* arg) {
    if (write_p == 0 && content_type == SSL3_RT_INNER_CONTENT_TYPE && len == 1 &&
        *static_cast<const std::uint8_t*>(buf) == SSL3_RT_APPLICATION_DATA)
      ++static_cast<RawPeer*>(arg)->records;
  }

  int fd_ = -1;
  mqttpki::net::detail::SslCtxPtr ctx_{SSL_CTX_new(TLS_client_method())};
  mqttpki::pki::ossl::UniquePtr<SSL> ssl_;
  mqtt::FrameReader reader_;
};

std::vector<std::uint8_t> publish_bytes(const std::string& topic, const std::string& payload) {
  mqtt::Publish p;
  p.topic = topic;
  p.payload.assign(payload.begin(), payload.end());
  return mqtt::encode(p);
}

std::string payload_of(int i, std::size_t size) {
  std::string s = std::to_string(i) + ":";
  s.resize(size, static_cast<char>('a' + i % 26));
  return s;
}

}  // namespace

TEST_CASE("what the broker sends in one turn reaches the subscriber in one TLS record, in order", "[broker][gather]") {
  RunningBroker b({tls_listener()});
  RawPeer sub(b.port(), "sub");
  sub.subscribe("g/#", 0);
  RawPeer pub(b.port(), "pub");
  constexpr int kCount = 50;
  std::vector<std::uint8_t> burst;
  for (int i = 0; i < kCount; ++i) {
    auto one = publish_bytes("g/" + std::to_string(i), payload_of(i, 16));
    burst.insert(burst.end(), one.begin(), one.end());
  }
  const std::size_t before = sub.records;
  pub.write(burst);  // one record: the broker reads all 50 PUBLISHes in one step, so one turn sends them on
  for (int i = 0; i < kCount; ++i) sub.expect_publish("g/" + std::to_string(i), payload_of(i, 16));
  CHECK(sub.records - before == 1);  // packet by packet it was 50
}

TEST_CASE("a subscriber that does not read for a while gets every message, in order", "[broker][gather]") {
  RunningBroker b({tls_listener()});
  const auto qos = static_cast<std::uint8_t>(GENERATE(0, 1));
  RawPeer sub(b.port(), "slow");
  sub.subscribe("s/#", qos);
  // QoS 0: 6 MB, more than loopback's socket buffers take, so most of it waits in the broker's write queue
  // (under its 8 MiB limit). QoS 1: 500 messages, which the session holds beyond the 20 in flight.
  const int count = qos == 0 ? 1500 : 500;
  const std::size_t size = qos == 0 ? 4000 : 1000;
  {
    mqttpki::net::Client pub(client_options(b.port(), "client"));
    pub.connect();
    for (int i = 0; i < count; ++i) pub.publish("s/" + std::to_string(i % 7), payload_of(i, size), qos);
    pub.ping();  // answered after every PUBLISH before it was handled
  }
  for (int i = 0; i < count; ++i) sub.expect_publish("s/" + std::to_string(i % 7), payload_of(i, size));
  CHECK_FALSE(b.log.wait_for("bytes waiting", std::chrono::milliseconds(0)));
}
