// The blocking client: its own io_context, asynchronous operations run until done or until a deadline.
// One read stays pending across calls (a receive() that times out does not lose a half-read record).

#include <mqttpki/net/client.hpp>

#include "tls.hpp"

#include <mqttpki/mqtt/codec.hpp>
#include <mqttpki/error.hpp>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <fmt/format.h>

#include <array>
#include <deque>
#include <random>
#include <set>

namespace mqttpki::net {

namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

const char* connack_text(mqtt::ConnectReturnCode rc) {
  switch (rc) {
    case mqtt::ConnectReturnCode::accepted:
      return "accepted";
    case mqtt::ConnectReturnCode::unacceptable_protocol_version:
      return "unacceptable protocol version";
    case mqtt::ConnectReturnCode::identifier_rejected:
      return "client identifier rejected";
    case mqtt::ConnectReturnCode::server_unavailable:
      return "server unavailable (too many connections?)";
    case mqtt::ConnectReturnCode::bad_username_or_password:
      return "bad user name or password";
    case mqtt::ConnectReturnCode::not_authorized:
      return "not authorised";
  }
  return "unknown reason";
}

std::string random_client_id() {
  std::random_device rd;
  return fmt::format("mqttpki-{:08x}", rd());
}

}  // namespace

struct Client::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)), resolver(io), reader(options.max_packet_size) {
    if (options.client_id.empty()) options.client_id = random_client_id();
  }

  ClientOptions options;
  asio::io_context io;
  tcp::resolver resolver;
  std::shared_ptr<asio::ssl::context> ctx;
  std::optional<asio::ssl::stream<tcp::socket>> tls;
  std::optional<tcp::socket> plain;
  detail::VerifyReport report;
  mqtt::FrameReader reader;
  std::array<std::uint8_t, 16384> rbuf{};
  bool read_pending = false;
  bool read_done = false;
  std::error_code read_ec;
  std::size_t read_n = 0;
  std::deque<ReceivedMessage> inbox;
  std::size_t inbox_bytes = 0;  // payloads in `inbox`
  std::set<std::uint16_t> qos2_incoming;  // PUBREC sent, PUBREL not yet received
  std::uint16_t next_pid = 1;
  bool is_connected = false;
  Clock::time_point last_send = Clock::now();

  std::string where() const { return fmt::format("{}:{}", options.host, options.port); }

  tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }
  void close_socket() {
    std::error_code ec;
    if (tls || plain) socket().close(ec);
    is_connected = false;
  }

  [[noreturn]] void fail(const std::string& message) {
    close_socket();
    throw Error(Errc::network, message);
  }

  // Runs the loop until `done` or the deadline; false on timeout (the operation stays pending).
  bool run_until(const bool& done, Clock::time_point deadline) {
    while (!done) {
      if (io.stopped()) io.restart();
      if (Clock::now() >= deadline) return false;
      io.run_one_until(deadline);
    }
    return true;
  }

  // Runs a one-shot operation to completion; on timeout closes the socket and throws.
  void run_op(bool& done, Clock::time_point deadline, std::string_view what) {
    if (run_until(done, deadline)) return;
    close_socket();
    io.restart();
    while (!done) io.run_one();  // the aborted completion
    throw Error(Errc::network, fmt::format("{} {} timed out after {} ms", what, where(), options.timeout.count()));
  }

  Clock::time_point deadline() const { return Clock::now() + options.timeout; }

  std::string describe_io_error(const std::error_code& ec) {
    if (!report.message.empty() || ec.category() == asio::error::get_ssl_category())
      return detail::describe_tls_failure(ec.message(), report, false);
    if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof || ec == asio::error::connection_reset)
      return is_connected ? "the broker closed the connection" : "the broker closed the connection during the TLS handshake";
    return ec.message();
  }

  void connect_transport() {
    auto dl = deadline();
    bool done = false;
    std::error_code ec;
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(options.host, std::to_string(options.port),
                           [&](std::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             done = true;
                           });
    if (!run_until(done, dl)) {
      resolver.cancel();
      io.restart();
      while (!done) io.run_one();
      throw Error(Errc::network, fmt::format("resolving '{}' timed out", options.host));
    }
    if (ec) throw Error(Errc::network, fmt::format("cannot resolve '{}': {}; check -h", options.host, ec.message()));

    plain.emplace(io);
    done = false;
    asio::async_connect(*plain, endpoints, [&](std::error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    run_op(done, dl, "connecting to");
    if (ec)
      fail(fmt::format("cannot connect to {}: {}; is the broker running and the port right?", where(), ec.message()));
    std::error_code ignored;
    plain->set_option(tcp::no_delay(true), ignored);

    if (!options.tls.enabled) return;
    ctx = std::make_shared<asio::ssl::context>(detail::make_client_ctx(options.tls).release());
    tls.emplace(std::move(*plain), *ctx);
    plain.reset();
    std::string name = options.tls.server_name.empty() ? options.host : options.tls.server_name;
    report.peer_role = "server certificate";
    report.cafile = options.tls.cafile;
    report.host = name;
    SSL& ssl = *tls->native_handle();
    detail::attach_report(ssl, report);
    detail::set_client_peer_checks(ssl, name, options.tls.insecure);
    done = false;
    tls->async_handshake(asio::ssl::stream_base::client, [&](std::error_code e) {
      ec = e;
      done = true;
    });
    run_op(done, dl, "TLS handshake with");
    if (ec) fail(describe_io_error(ec));
  }

  void write(const mqtt::Packet& packet) {
    auto bytes = mqtt::encode(packet);
    bool done = false;
    std::error_code ec;
    auto handler = [&](std::error_code e, std::size_t) {
      ec = e;
      done = true;
    };
    if (tls) {
      asio::async_write(*tls, asio::buffer(bytes), handler);
    } else {
      asio::async_write(*plain, asio::buffer(bytes), handler);
    }
    run_op(done, deadline(), "writing to");
    if (ec) {
      // A broker refusing our certificate under TLS 1.3 sends an alert and closes; the alert waiting in
      // the socket explains the failed write better than "broken pipe".
      if (tls && !read_done) {
        start_read();
        run_until(read_done, Clock::now() + std::chrono::seconds(1));
      }
      if (read_done && read_ec.category() == asio::error::get_ssl_category()) fail(describe_io_error(read_ec));
      fail(fmt::format("connection to {} lost while writing: {}", where(), describe_io_error(ec)));
    }
    last_send = Clock::now();
  }

  void start_read() {
    if (read_pending || read_done) return;
    read_pending = true;
    auto handler = [this](std::error_code e, std::size_t n) {
      read_pending = false;
      read_done = true;
      read_ec = e;
      read_n = n;
    };
    if (tls) {
      tls->async_read_some(asio::buffer(rbuf), handler);
    } else {
      plain->async_read_some(asio::buffer(rbuf), handler);
    }
  }

  // The next packet, or nullopt at the deadline. Throws when the connection is lost.
  std::optional<mqtt::Packet> read_packet(Clock::time_point dl) {
    for (;;) {
      auto next = reader.next();
      if (!next && next.error() == mqtt::errc::packet_too_large)
        fail(fmt::format("the broker at {} sent a packet larger than this client's limit of {} bytes", where(),
                         options.max_packet_size));
      if (!next) fail(fmt::format("the broker at {} sent a malformed packet: {}", where(), next.error().message()));
      if (*next) return std::move(**next);
      if (read_done) {
        read_done = false;
        if (read_ec) {
          // A TLS alert here is the broker refusing us (TLS 1.3 checks client certificates after the
          // client's handshake is done): its explanation stands alone.
          if (read_ec.category() == asio::error::get_ssl_category()) fail(describe_io_error(read_ec));
          fail(fmt::format("connection to {} lost: {}", where(), describe_io_error(read_ec)));
        }
        reader.feed(std::span<const std::uint8_t>(rbuf.data(), read_n));
        continue;
      }
      start_read();
      if (!run_until(read_done, dl)) return std::nullopt;
    }
  }

  // Messages wait in the inbox while the caller waits for an acknowledgement; a broker that floods them
  // (at most max_packet_size each) must not grow the client without bound.
  void keep(ReceivedMessage m) {
    if (inbox_bytes + m.payload.size() > 4 * options.max_packet_size)
      fail(fmt::format("the broker at {} sent more than {} bytes of messages that were not read yet", where(),
                       4 * options.max_packet_size));
    inbox_bytes += m.payload.size();
    inbox.push_back(std::move(m));
  }

  ReceivedMessage take() {
    ReceivedMessage m = std::move(inbox.front());
    inbox.pop_front();
    inbox_bytes -= m.payload.size();
    return m;
  }

  // Acknowledgements owed to the broker for what it sends us.
  void handle_incoming(mqtt::Packet& p) {
    if (auto* pub = std::get_if<mqtt::Publish>(&p)) {
      ReceivedMessage m{pub->topic, std::move(pub->payload), static_cast<std::uint8_t>(pub->qos), pub->retain};
      if (pub->qos == mqtt::QoS::at_most_once) {
        keep(std::move(m));
      } else if (pub->qos == mqtt::QoS::at_least_once) {
        keep(std::move(m));
        write(mqtt::PubAck{pub->packet_id});
      } else {
        // Exactly once: deliver on first receipt, ignore duplicates until PUBREL releases the id.
        if (qos2_incoming.insert(pub->packet_id).second) keep(std::move(m));
        write(mqtt::PubRec{pub->packet_id});
      }
    } else if (auto* rel = std::get_if<mqtt::PubRel>(&p)) {
      qos2_incoming.erase(rel->packet_id);
      write(mqtt::PubComp{rel->packet_id});
    }
    // PINGRESP and stray acknowledgements need nothing.
  }

  template <class T>
  T wait_for(std::uint16_t pid, bool match_pid, std::string_view what) {
    auto dl = deadline();
    for (;;) {
      auto p = read_packet(dl);
      if (!p) fail(fmt::format("no {} from {} within {} ms", what, where(), options.timeout.count()));
      if (auto* t = std::get_if<T>(&*p)) {
        if constexpr (requires { t->packet_id; }) {
          if (!match_pid || t->packet_id == pid) return *t;
        } else {
          return *t;
        }
      }
      handle_incoming(*p);
    }
  }

  std::uint16_t take_pid() {
    std::uint16_t pid = next_pid++;
    if (next_pid == 0) next_pid = 1;
    return pid;
  }

  void ensure_connected() const {
    if (!is_connected) throw Error(Errc::network, "not connected; call connect() first");
  }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() { disconnect(); }

ConnectResult Client::connect() {
  auto& im = *impl_;
  im.connect_transport();
  mqtt::Connect c;
  c.client_id = im.options.client_id;
  c.keep_alive = im.options.keepalive;
  c.clean_session = im.options.clean_session;
  c.username = im.options.username;
  if (im.options.password) c.password = std::vector<std::uint8_t>(im.options.password->begin(), im.options.password->end());
  im.is_connected = true;  // the transport is up; write() needs it
  im.write(c);
  auto ack = im.wait_for<mqtt::ConnAck>(0, false, "CONNACK");
  if (ack.return_code != mqtt::ConnectReturnCode::accepted)
    im.fail(fmt::format("broker refused: {} (CONNACK {})", connack_text(ack.return_code),
                        static_cast<int>(ack.return_code)));
  ConnectResult r;
  r.session_present = ack.session_present;
  if (im.tls) r.tls_summary = detail::tls_summary(*im.tls->native_handle());
  return r;
}

void Client::publish(const std::string& topic, const std::vector<std::uint8_t>& payload, std::uint8_t qos, bool retain) {
  auto& im = *impl_;
  im.ensure_connected();
  if (qos > 2) throw Error(Errc::invalid_argument, fmt::format("QoS {} does not exist; use 0, 1 or 2", qos));
  mqtt::Publish p;
  p.topic = topic;
  p.payload = payload;
  p.qos = static_cast<mqtt::QoS>(qos);
  p.retain = retain;
  if (qos > 0) p.packet_id = im.take_pid();
  im.write(p);
  if (qos == 1) {
    im.wait_for<mqtt::PubAck>(p.packet_id, true, "PUBACK");
  } else if (qos == 2) {
    im.wait_for<mqtt::PubRec>(p.packet_id, true, "PUBREC");
    im.write(mqtt::PubRel{p.packet_id});
    im.wait_for<mqtt::PubComp>(p.packet_id, true, "PUBCOMP");
  }
}

void Client::publish(const std::string& topic, const std::string& payload, std::uint8_t qos, bool retain) {
  publish(topic, std::vector<std::uint8_t>(payload.begin(), payload.end()), qos, retain);
}

std::vector<std::uint8_t> Client::subscribe(const std::vector<std::pair<std::string, std::uint8_t>>& filters) {
  auto& im = *impl_;
  im.ensure_connected();
  mqtt::Subscribe s;
  s.packet_id = im.take_pid();
  for (const auto& [f, q] : filters) s.topics.push_back({f, static_cast<mqtt::QoS>(q)});
  im.write(s);
  auto ack = im.wait_for<mqtt::SubAck>(s.packet_id, true, "SUBACK");
  return ack.return_codes;
}

std::optional<ReceivedMessage> Client::receive(std::chrono::milliseconds wait) {
  auto& im = *impl_;
  auto end = Clock::now() + wait;
  for (;;) {
    if (!im.inbox.empty()) return im.take();
    im.ensure_connected();
    auto dl = end;
    if (im.options.keepalive > 0) {
      auto ping_at = im.last_send + std::chrono::seconds(im.options.keepalive);
      if (Clock::now() >= ping_at) {
        im.write(mqtt::PingReq{});
        continue;
      }
      dl = std::min(dl, ping_at);
    }
    auto p = im.read_packet(dl);
    if (p) {
      im.handle_incoming(*p);
    } else if (Clock::now() >= end) {
      return std::nullopt;
    }
  }
}

void Client::ping() {
  auto& im = *impl_;
  im.ensure_connected();
  im.write(mqtt::PingReq{});
  im.wait_for<mqtt::PingResp>(0, false, "PINGRESP");
}

void Client::disconnect() noexcept {
  auto& im = *impl_;
  if (im.is_connected) {
    try {
      im.write(mqtt::Disconnect{});
      std::error_code ec;
      im.socket().shutdown(tcp::socket::shutdown_send, ec);
    } catch (...) {  // best effort: the connection may already be gone
    }
  }
  im.close_socket();
  try {
    im.io.restart();
    im.io.poll();
  } catch (...) {  // a handler cannot throw here; never let disconnect() throw
  }  // let aborted completions run while the objects they touch exist
}

bool Client::connected() const { return impl_->is_connected; }

}  // namespace mqttpki::net
