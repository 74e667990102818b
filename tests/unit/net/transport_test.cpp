// Transport, the broker's non-blocking TLS/TCP stream (lib/net/src/transport.hpp), driven step by step
// against an OpenSSL client on a loopback socket pair: the handshake, bytes both ways, the error each way
// of ending maps to, records that arrived together taken in one recv (read-ahead), and a write to a peer that
// has gone away returning an error instead of raising SIGPIPE
// (this process does not ignore SIGPIPE, so a signal would end the test run); and its readiness waits
// (Asio's async_wait on the socket): completed by data, by room to write, aborted by close(), and aborted
// without touching the Transport when it is destroyed with a wait pending.

#include "fixture.hpp"
#include "tls.hpp"
#include "transport.hpp"

#include <asio/ssl/error.hpp>

#include <sys/ioctl.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace nettest;
using mqttpki::net::detail::Transport;
using Want = Transport::Want;

namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const noexcept { SSL_free(p); }
};

// Connects client to a fresh 127.0.0.1 listener and makes the accepted end the server Transport.
void connect_loopback(asio::io_context& io, asio::ip::tcp::socket& client, std::optional<Transport>& server) {
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  client.connect(acceptor.local_endpoint());
  Transport::Socket accepted(io.get_executor());
  acceptor.accept(accepted);
  server.emplace(std::move(accepted));
}

// A server Transport and a client SSL on the two ends of one 127.0.0.1 connection, both non-blocking.
struct TlsPair {
  asio::io_context io;
  asio::ip::tcp::socket client{io};
  std::optional<Transport> server;
  mqttpki::net::detail::SslCtxPtr server_ctx = mqttpki::net::detail::make_server_ctx(tls_listener());
  std::unique_ptr<SSL_CTX, SslCtxFree> client_ctx{SSL_CTX_new(TLS_client_method())};
  std::unique_ptr<SSL, SslFree> ssl;

  TlsPair() {
    connect_loopback(io, client, server);
    server->start_tls_server(*server_ctx);
    REQUIRE(SSL_CTX_load_verify_locations(client_ctx.get(), cert("ca.crt").c_str(), nullptr) == 1);
    REQUIRE(SSL_CTX_use_certificate_file(client_ctx.get(), cert("client.crt").c_str(), SSL_FILETYPE_PEM) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(client_ctx.get(), cert("client.key").c_str(), SSL_FILETYPE_PEM) == 1);
    SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);
    ssl.reset(SSL_new(client_ctx.get()));
    client.non_blocking(true);
    REQUIRE(SSL_set_fd(ssl.get(), client.native_handle()) == 1);
    SSL_set_connect_state(ssl.get());
  }

  // Alternates the two sides' handshake steps (loopback delivers at once); true when both are done.
  bool handshake() {
    bool server_done = false, client_done = false;
    for (int i = 0; i < 2000 && !(server_done && client_done); ++i) {
      if (!server_done) {
        std::error_code ec;
        auto step = server->handshake(ec);
        REQUIRE_FALSE(ec);
        server_done = step.want == Want::nothing;
      }
      if (!client_done) {
        int r = SSL_do_handshake(ssl.get());
        int e = SSL_get_error(ssl.get(), r);
        REQUIRE((r == 1 || e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE));
        client_done = r == 1;
      }
      if (i > 100) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return server_done && client_done;
  }

  // Server-side read, retried (bounded) while it would block.
  std::string server_read(std::error_code& ec) {
    std::array<std::uint8_t, 4096> buf{};
    for (int i = 0; i < 2000; ++i) {
      auto step = server->read_some(buf, ec);
      if (ec) return {};
      if (step.want == Want::nothing) return std::string(buf.begin(), buf.begin() + static_cast<long>(step.bytes));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    FAIL("nothing to read within 2 s");
    return {};
  }

  // The client reads whatever has arrived (session tickets included), so that closing sends a FIN, not a RST.
  std::string client_drain() {
    std::string out;
    char buf[4096];
    for (int i = 0; i < 50; ++i) {
      int n = SSL_read(ssl.get(), buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ERR_clear_error();
    return out;
  }
};

}  // namespace

TEST_CASE("Transport: TLS handshake, bytes both ways, and close_notify read as end of stream", "[transport]") {
  TlsPair p;
  REQUIRE(p.handshake());
  REQUIRE(SSL_write(p.ssl.get(), "hello", 5) == 5);
  std::error_code ec;
  CHECK(p.server_read(ec) == "hello");
  CHECK_FALSE(ec);
  const std::string reply = "world";
  auto step = p.server->write_some(std::span<const std::uint8_t>(
                                       reinterpret_cast<const std::uint8_t*>(reply.data()), reply.size()),
                                   ec);
  CHECK_FALSE(ec);
  CHECK(step.bytes == 5);
  CHECK(p.client_drain() == "world");
  SSL_shutdown(p.ssl.get());  // close_notify
  p.server_read(ec);
  CHECK(ec == asio::error::eof);
}

TEST_CASE("Transport: records that arrived together are taken in one recv, then returned one per step",
          "[transport]") {
  TlsPair p;
  REQUIRE(p.handshake());
  const std::vector<std::string> records = {"one", "two", "three"};
  int expected = 0;  // TLS 1.3 with AES-GCM or ChaCha20: a 5-byte header, the content type and a 16-byte tag
  for (const auto& r : records) {
    REQUIRE(SSL_write(p.ssl.get(), r.data(), static_cast<int>(r.size())) == static_cast<int>(r.size()));
    expected += static_cast<int>(r.size()) + 22;
  }
  const int fd = p.server->fd();
  int waiting = 0;
  for (int i = 0; i < 2000 && waiting < expected; ++i) {
    REQUIRE(ioctl(fd, FIONREAD, &waiting) == 0);
    if (waiting < expected) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(waiting == expected);
  std::error_code ec;
  CHECK(p.server_read(ec) == "one");
  REQUIRE(ioctl(fd, FIONREAD, &waiting) == 0);
  CHECK(waiting == 0);  // read-ahead: the other two records came with the first recv
  CHECK(p.server_read(ec) == "two");
  CHECK(p.server_read(ec) == "three");
  std::array<std::uint8_t, 16> buf{};
  CHECK(p.server->read_some(buf, ec).want == Want::read);  // and now the socket is waited on
  CHECK_FALSE(ec);
}

TEST_CASE("Transport: TCP closed without close_notify is a truncated stream", "[transport]") {
  TlsPair p;
  REQUIRE(p.handshake());
  p.client_drain();
  p.client.close();
  std::error_code ec;
  p.server_read(ec);
  CHECK(ec == asio::ssl::error::stream_truncated);
}

TEST_CASE("Transport: writing to a peer that has gone away is an error, not SIGPIPE", "[transport]") {
  TlsPair p;
  REQUIRE(p.handshake());
  p.client_drain();
  p.client.close();  // FIN; the next bytes we send are answered with a RST, the ones after fail with EPIPE
  std::vector<std::uint8_t> chunk(16 * 1024, 0x42);
  std::error_code ec;
  for (int i = 0; i < 200 && !ec; ++i) {
    auto step = p.server->write_some(chunk, ec);
    if (step.want != Want::nothing) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(ec);  // still running: the failed write came back as an error
  INFO(ec.category().name() << ": " << ec.message());
  CHECK((ec == asio::error::broken_pipe || ec == asio::error::connection_reset ||
         ec.category() == asio::error::get_ssl_category()));
  // and every later step reports an error too, without touching a signal
  p.server->write_some(chunk, ec);
  CHECK(ec);
}

TEST_CASE("Transport: a closed socket is reported, never used", "[transport]") {
  TlsPair p;
  REQUIRE(p.handshake());
  p.server->close();
  std::error_code ec;
  std::array<std::uint8_t, 16> buf{};
  p.server->read_some(buf, ec);
  CHECK(ec == asio::error::bad_descriptor);
  p.server->write_some(buf, ec);
  CHECK(ec == asio::error::bad_descriptor);
}

namespace {

// A plain TCP Transport (no TLS) and its client, for the waits.
struct PlainPair {
  asio::io_context io;
  asio::ip::tcp::socket client{io};
  std::optional<Transport> server;
  PlainPair() {
    connect_loopback(io, client, server);
  }
  // Runs handlers until done() or a bounded time has passed.
  template <typename Done>
  bool run_until(Done done) {
    for (int i = 0; i < 200 && !done(); ++i) {
      if (io.stopped()) io.restart();  // it stops whenever it runs out of work (no wait pending)
      io.run_for(std::chrono::milliseconds(10));
    }
    return done();
  }
};

}  // namespace

TEST_CASE("Transport waits: data completes a read wait, and the read then finds it", "[transport][waits]") {
  PlainPair p;
  std::array<std::uint8_t, 64> buf{};
  std::error_code ec;
  auto step = p.server->read_some(buf, ec);  // nothing yet: would block
  REQUIRE_FALSE(ec);
  REQUIRE(step.want == Want::read);
  std::optional<std::error_code> got;
  p.server->on_ready(Want::read, [&](std::error_code e) { got = e; });
  p.io.run_for(std::chrono::milliseconds(50));
  CHECK_FALSE(got);  // no data, no completion
  asio::write(p.client, asio::buffer(std::string("ping")));
  REQUIRE(p.run_until([&] { return got.has_value(); }));
  CHECK_FALSE(*got);
  step = p.server->read_some(buf, ec);
  REQUIRE_FALSE(ec);
  CHECK(std::string(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(step.bytes)) == "ping");
}

TEST_CASE("Transport waits: a coroutine waits for room to write while the reader waits for data",
          "[transport][waits]") {
  PlainPair p;
  std::array<std::uint8_t, 16> rbuf{};
  std::error_code ec;
  REQUIRE(p.server->read_some(rbuf, ec).want == Want::read);
  bool read_ready = false;
  p.server->on_ready(Want::read, [&](std::error_code e) { read_ready = !e; });
  // Fill the socket until a write blocks, then wait for room in a coroutine.
  std::vector<std::uint8_t> chunk(64 * 1024, 0x5a);
  std::size_t sent = 0;
  for (int i = 0; i < 1000; ++i) {
    auto step = p.server->write_some(chunk, ec);
    REQUIRE_FALSE(ec);
    if (step.want == Want::write) break;
    sent += step.bytes;
  }
  bool write_ready = false;
  asio::co_spawn(
      p.io,
      [&]() -> asio::awaitable<void> {
        std::error_code wec;
        co_await p.server->wait(Want::write, wec);
        write_ready = !wec;
      },
      asio::detached);
  p.io.run_for(std::chrono::milliseconds(50));
  CHECK_FALSE(write_ready);
  CHECK_FALSE(read_ready);
  // the client drains: room to write; then it sends: data to read
  std::vector<std::uint8_t> sink(sent + chunk.size());
  std::size_t drained = 0;
  p.client.non_blocking(true);
  REQUIRE(p.run_until([&] {
    std::error_code e;
    drained += p.client.read_some(asio::buffer(sink), e);
    return write_ready;
  }));
  CHECK_FALSE(read_ready);
  asio::write(p.client, asio::buffer(std::string("x")), ec);
  REQUIRE(p.run_until([&] { return read_ready; }));
  CHECK(drained > 0);
}

TEST_CASE("Transport waits: close() aborts pending waits, and a dropped transport aborts and frees them", "[transport][waits]") {
  PlainPair p;
  std::array<std::uint8_t, 16> buf{};
  std::error_code ec;
  REQUIRE(p.server->read_some(buf, ec).want == Want::read);
  std::optional<std::error_code> callback;
  std::optional<std::error_code> coroutine;
  p.server->on_ready(Want::read, [&](std::error_code e) { callback = e; });
  asio::co_spawn(
      p.io,
      [&]() -> asio::awaitable<void> {
        std::error_code wec;
        co_await p.server->wait(Want::read, wec);  // a second waiter for the same direction
        coroutine = wec;
      },
      asio::detached);
  p.io.run_for(std::chrono::milliseconds(20));
  REQUIRE_FALSE(callback);
  REQUIRE_FALSE(coroutine);
  p.server->close();
  REQUIRE(p.run_until([&] { return callback && coroutine; }));
  CHECK(*callback == asio::error::operation_aborted);
  CHECK(*coroutine == asio::error::operation_aborted);
  // a wait started after close() is aborted too, never parked
  std::optional<std::error_code> late;
  p.server->on_ready(Want::write, [&](std::error_code e) { late = e; });
  REQUIRE(p.run_until([&] { return late.has_value(); }));
  CHECK(*late == asio::error::operation_aborted);

  // A transport destroyed with a wait pending: the waiter runs with operation_aborted (not touching the
  // Transport), and then the owner it holds is freed.
  PlainPair q;
  REQUIRE(q.server->read_some(buf, ec).want == Want::read);
  auto owner = std::make_shared<int>(7);
  std::weak_ptr<int> watch = owner;
  std::optional<std::error_code> dropped;
  q.server->on_ready(Want::read, [&dropped, o = std::move(owner)](std::error_code e) { dropped = e; });
  q.server.reset();
  REQUIRE(q.run_until([&] { return dropped.has_value(); }));
  CHECK(*dropped == asio::error::operation_aborted);
  CHECK(watch.expired());
}

namespace {
int tickets_seen = 0;
int count_ticket(SSL* /*ssl*/, SSL_SESSION* /*session*/) {
  ++tickets_seen;
  return 0;  // not kept
}
}  // namespace

TEST_CASE("Transport: a TLS 1.3 client gets one session ticket per handshake, not OpenSSL's default two",
          "[transport]") {
  TlsPair p;
  tickets_seen = 0;
  SSL_CTX_set_session_cache_mode(p.client_ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(p.client_ctx.get(), count_ticket);
  REQUIRE(p.handshake());
  REQUIRE(SSL_version(p.ssl.get()) == TLS1_3_VERSION);
  // Tickets follow the handshake; the client takes them in when it reads the server's next bytes.
  const std::string hello = "hello";
  std::error_code ec;
  p.server->write_some(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(hello.data()), hello.size()),
                       ec);
  REQUIRE_FALSE(ec);
  CHECK(p.client_drain() == "hello");
  CHECK(tickets_seen == 1);
}
