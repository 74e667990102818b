#pragma once
// One broker connection's byte stream, plain TCP or TLS, on a non-blocking socket driven by readiness
// waits. OpenSSL reads and writes the socket itself through a small socket BIO on the descriptor (as
// Mosquitto does, but writing with MSG_NOSIGNAL), so an idle TLS connection holds only OpenSSL's state: with
// SSL_MODE_RELEASE_BUFFERS its record buffers are freed whenever they are empty. asio::ssl::stream, which
// this replaces in the broker, keeps a BIO pair and two 17 KiB staging buffers per connection for its whole
// life (about 70 KiB of the ~99 KiB an idle connection used to cost; see docs/benchmarks.md).
//
// The steps are synchronous and never block: each one moves bytes or says what it waits for; the caller
// waits for the socket (wait(), or its own async_wait) and repeats the step. Because a step completes
// without suspending, the bytes a read step puts into a buffer can be consumed before any other connection
// runs, so all connections can share one read buffer.

#include "ossl.hpp"

#include <asio.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>

namespace mqttpki::net::detail {

using SslPtr = pki::ossl::Ptr<SSL, SSL_free>;

// operator new/delete, without asio's per-thread block recycling (see Transport::on_ready).
template <typename T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() noexcept = default;
  template <typename U>
  ExactAllocator(const ExactAllocator<U>& /*other*/) noexcept {}  // NOLINT(google-explicit-constructor): rebinding
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t /*n*/) noexcept { ::operator delete(p); }
  friend bool operator==(const ExactAllocator&, const ExactAllocator&) noexcept { return true; }
};

class Transport {
 public:
  // Bound to the io_context's own executor type rather than asio::any_io_executor: each socket and each
  // pending wait then carries an 8-byte executor instead of a type-erased one (about 200 bytes less per
  // idle connection).
  using Socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;
  using Acceptor = asio::basic_socket_acceptor<asio::ip::tcp, asio::io_context::executor_type>;
  enum class Want { nothing, read, write };
  struct Step {
    std::size_t bytes = 0;     // moved by this step
    Want want = Want::nothing;  // read/write: wait for the socket, then repeat the step (with the same arguments)
  };

  explicit Transport(Socket socket);  // plain TCP; makes the socket non-blocking

  // Switches to TLS as the server with a new SSL object from ctx. Throws mqttpki::Error.
  void start_tls_server(SSL_CTX& ctx);
  [[nodiscard]] bool tls() const noexcept { return ssl_ != nullptr; }
  [[nodiscard]] SSL* ssl() const noexcept { return ssl_.get(); }
  [[nodiscard]] Socket& socket() noexcept { return socket_; }

  // Errors: asio::error::eof (orderly close), asio::ssl::error::stream_truncated (TCP closed without a TLS
  // close_notify), errors of the ssl category (their message is OpenSSL's reason), system errors, and
  // asio::error::bad_descriptor once the socket is closed.
  Step handshake(std::error_code& ec);
  Step read_some(std::span<std::uint8_t> into, std::error_code& ec);
  Step write_some(std::span<const std::uint8_t> bytes, std::error_code& ec);

  // Waits until the socket is ready for want (operation_aborted when it is closed meanwhile).
  asio::awaitable<void> wait(Want want, std::error_code& ec);
  // The same as a callback, handler(std::error_code), for a connection that holds no coroutine while idle.
  // The handler must keep this Transport alive (e.g. by owning its connection).
  template <typename Handler>
  void on_ready(Want want, Handler handler) {
    // An exactly sized wait operation: asio's recycling allocator (what it uses for std::allocator too)
    // would hand an idle connection whatever larger block a finished operation left in its cache.
    socket_.async_wait(wait_type(want), asio::bind_allocator(ExactAllocator<void>(),
                                                             [this, h = std::move(handler)](std::error_code ec) mutable {
                                                               h(after_wait(ec));
                                                             }));
  }

  // Best effort, never waits: a TLS close_notify, then TCP FIN. The socket stays open for reading.
  void shutdown_send();
  void close() noexcept;

 private:
  static Socket::wait_type wait_type(Want want) {
    return want == Want::read ? Socket::wait_read : Socket::wait_write;
  }
  [[nodiscard]] std::error_code after_wait(std::error_code ec) const;
  bool usable(std::error_code& ec) const;
  template <typename Call>
  Step tls_step(Call call, std::error_code& ec);  // call(size_t* moved) -> OpenSSL's int result
  static Step plain_step(std::size_t n, Want blocked, std::error_code& ec);
  Step ssl_step(int ret, int saved_errno, std::error_code& ec);
  Socket socket_;
  SslPtr ssl_;
};

}  // namespace mqttpki::net::detail
