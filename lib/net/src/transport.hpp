#pragma once
// One broker connection's byte stream, plain TCP or TLS, on a non-blocking socket driven by readiness
// waits. OpenSSL reads and writes the socket itself through a small socket BIO on the descriptor (as
// Mosquitto does, but writing with MSG_NOSIGNAL), so an idle TLS connection holds only OpenSSL's state: with
// SSL_MODE_RELEASE_BUFFERS its record buffers are freed whenever they are empty. asio::ssl::stream, which
// this replaces in the broker, keeps a BIO pair and two 17 KiB staging buffers per connection for its whole
// life (about 70 KiB of the ~99 KiB an idle connection used to cost; see docs/benchmarks.md).
//
// A TLS read takes as many records as the socket holds and OpenSSL's buffer fits (read-ahead), returned one
// per step; the caller repeats read steps until one wants the socket, so no record waits unseen.
//
// The steps are synchronous and never block: each one moves bytes or says what it waits for; the caller
// waits for the socket (wait() or on_ready(): Asio's async_wait on the socket) and repeats the step. Because
// a step completes without suspending, the bytes a read step puts into a buffer can be consumed before any
// other connection runs, so all connections can share one read buffer.

#include "ossl.hpp"

#include <asio.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <span>
#include <system_error>

namespace mqttpki::net::detail {

using SslPtr = pki::ossl::UniquePtr<SSL>;

class Transport {
 public:
  using Socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;
  using Acceptor = asio::basic_socket_acceptor<asio::ip::tcp, asio::io_context::executor_type>;
  enum class Want { nothing, read, write };
  struct Step {
    std::size_t bytes = 0;     // moved by this step
    Want want = Want::nothing;  // read/write: wait for the socket, then repeat the step (with the same arguments)
  };

  // Keeps the accepted socket (plain TCP until start_tls_server) and makes it non-blocking. Throws
  // mqttpki::Error.
  explicit Transport(Socket socket);
  ~Transport() = default;  // closes the socket; pending waiters run with operation_aborted
  Transport(const Transport&) = delete;  // the TLS BIO points at it
  Transport& operator=(const Transport&) = delete;

  // Switches to TLS as the server with a new SSL object from ctx. Throws mqttpki::Error.
  void start_tls_server(SSL_CTX& ctx);
  [[nodiscard]] bool tls() const noexcept { return ssl_ != nullptr; }
  [[nodiscard]] SSL* ssl() const noexcept { return ssl_.get(); }
  [[nodiscard]] bool is_open() const noexcept { return socket_.is_open(); }
  // True while OpenSSL holds received bytes not returned yet: the next read step may need no system call.
  [[nodiscard]] bool buffered() const noexcept { return ssl_ && SSL_has_pending(ssl_.get()) == 1; }

  // Errors: asio::error::eof (orderly close), asio::ssl::error::stream_truncated (TCP closed without a TLS
  // close_notify), errors of the ssl category (their message is OpenSSL's reason), system errors, and
  // asio::error::bad_descriptor once the socket is closed.
  Step handshake(std::error_code& ec);
  Step read_some(std::span<std::uint8_t> into, std::error_code& ec);
  Step write_some(std::span<const std::uint8_t> bytes, std::error_code& ec);
  // Reads and drops raw bytes from the socket, below TLS (after a failed handshake, while its alert is
  // delivered); eof when the peer has closed.
  Step discard_input(std::error_code& ec);

  // Waits until the socket is ready for want (operation_aborted when it is closed meanwhile).
  asio::awaitable<void> wait(Want want, std::error_code& ec);
  // The same as a callback (want read or write), handler(std::error_code), for a connection that holds no
  // coroutine while idle.
  // The handler must keep this Transport alive (e.g. by owning its connection): close() completes it with
  // operation_aborted, which is also what ends the reference cycle.
  template <typename Handler>
  void on_ready(Want want, Handler handler) {
    // An aborted wait may outlive the Transport (destroyed with the wait pending): `this` is not touched then.
    socket_.async_wait(wait_type(want), [this, h = std::move(handler)](std::error_code ec) mutable {
      h(ec == asio::error::operation_aborted ? ec : after_wait(ec));
    });
  }

  // Best effort, never waits: a TLS close_notify, then TCP FIN. The socket stays open for reading.
  void shutdown_send();
  // Closes the socket; every pending waiter runs with operation_aborted.
  void close() noexcept;

  // What the TLS BIO uses: the descriptor, or -1 once closed.
  [[nodiscard]] int fd() noexcept { return socket_.is_open() ? socket_.native_handle() : -1; }

 private:
  static asio::socket_base::wait_type wait_type(Want want) noexcept;
  [[nodiscard]] std::error_code after_wait(std::error_code ec) const;
  bool usable(std::error_code& ec) const;
  template <typename Call>
  Step tls_step(Call call, std::error_code& ec);
  Step plain_step(long n, int saved_errno, Want blocked_on, std::error_code& ec);
  Step ssl_step(int ret, int saved_errno, std::error_code& ec);

  // Asio's reactor watches it: per socket, Asio's descriptor state and, while idle, one pending wait
  // (docs/benchmarks.md weighs that against a private epoll set).
  Socket socket_;
  SslPtr ssl_;
};

}  // namespace mqttpki::net::detail
