// Transport, the broker's non-blocking TLS/TCP stream (lib/net/src/transport.hpp), driven step by step
// against an OpenSSL client on a loopback socket pair: the handshake, bytes both ways, the error each way
// of ending maps to, and a write to a peer that has gone away returning an error instead of raising SIGPIPE
// (this process does not ignore SIGPIPE, so a signal would end the test run).

#include "fixture.hpp"
#include "tls.hpp"
#include "transport.hpp"

#include <asio/ssl/error.hpp>

#include <optional>
#include <string>
#include <thread>

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

// A server Transport and a client SSL on the two ends of one 127.0.0.1 connection, both non-blocking.
struct TlsPair {
  asio::io_context io;
  asio::ip::tcp::socket client{io};
  std::optional<Transport> server;
  mqttpki::net::detail::SslCtxPtr server_ctx = mqttpki::net::detail::make_server_ctx(tls_listener());
  std::unique_ptr<SSL_CTX, SslCtxFree> client_ctx{SSL_CTX_new(TLS_client_method())};
  std::unique_ptr<SSL, SslFree> ssl;

  TlsPair() {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    client.connect(acceptor.local_endpoint());
    Transport::Socket accepted(io.get_executor());
    acceptor.accept(accepted);
    server.emplace(std::move(accepted));
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
