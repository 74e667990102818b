#pragma once
// One broker connection's byte stream, plain TCP or TLS, on a non-blocking socket driven by readiness
// waits. OpenSSL reads and writes the socket itself through a small socket BIO on the descriptor (as
// Mosquitto does, but writing with MSG_NOSIGNAL), so an idle TLS connection holds only OpenSSL's state: with
// SSL_MODE_RELEASE_BUFFERS its record buffers are freed whenever they are empty. asio::ssl::stream, which
// this replaces in the broker, keeps a BIO pair and two 17 KiB staging buffers per connection for its whole
// life (about 70 KiB of the ~99 KiB an idle connection used to cost; see docs/benchmarks.md).
//
// The steps are synchronous and never block: each one moves bytes or says what it waits for; the caller
// waits for the socket (wait() or on_ready(), through the Poller below) and repeats the step. Because a step completes
// without suspending, the bytes a read step puts into a buffer can be consumed before any other connection
// runs, so all connections can share one read buffer.

#include "ossl.hpp"

#include <asio.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>
#include <span>
#include <system_error>

namespace mqttpki::net::detail {

using SslPtr = pki::ossl::UniquePtr<SSL>;

class Transport;

// A move-only void(std::error_code) callable (std::function needs copyable targets; a coroutine's
// completion handler is move-only).
class Callback {
 public:
  Callback() = default;
  template <typename F>
  explicit Callback(F f) : impl_(std::make_unique<Impl<F>>(std::move(f))) {}
  explicit operator bool() const noexcept { return impl_ != nullptr; }
  void operator()(std::error_code ec) {
    auto impl = std::move(impl_);  // runs once; the callable may start the next wait
    impl->call(ec);
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void call(std::error_code ec) = 0;
  };
  template <typename F>
  struct Impl final : Base {
    explicit Impl(F&& f) : fn(std::move(f)) {}
    void call(std::error_code ec) override { fn(ec); }
    F fn;
  };
  std::unique_ptr<Base> impl_;
};

// Readiness of many sockets through one edge-triggered epoll set, which Asio waits on as a single
// descriptor. A registered socket costs an epoll entry in the kernel; an Asio socket would also keep
// Asio's per-descriptor state and, while idle, a pending wait operation (about 280 bytes of user memory per
// idle connection, a third of what the broker itself kept per connection). The dispatch loop only marks
// ready sockets and collects their waiters (moved out of the Transports); the waiters run after it, so no
// Transport can disappear while events still point at it. One thread runs the io_context (the broker's).
class Poller {
 public:
  explicit Poller(asio::io_context& io);  // throws mqttpki::Error
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Stops waiting on the epoll set; call while the io_context still exists (Broker: before it goes).
  void stop() noexcept;

 private:
  friend class Transport;
  void add(int fd, Transport& t);  // throws mqttpki::Error
  void remove(int fd) noexcept;
  void wait();
  void run_ready();
  asio::io_context& io_;
  int epoll_fd_ = -1;
  std::unique_ptr<asio::posix::stream_descriptor> watch_;
  std::vector<Callback> ready_;  // waiters of the sockets found ready, run after the dispatch loop
};

class Transport {
 public:
  using Socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;
  using Acceptor = asio::basic_socket_acceptor<asio::ip::tcp, asio::io_context::executor_type>;
  enum class Want { nothing, read, write };
  struct Step {
    std::size_t bytes = 0;     // moved by this step
    Want want = Want::nothing;  // read/write: wait for the socket, then repeat the step (with the same arguments)
  };

  // Takes the descriptor out of the accepted socket (plain TCP until start_tls_server), makes it
  // non-blocking and registers it with the poller. Throws mqttpki::Error.
  Transport(Socket socket, Poller& poller);
  ~Transport();  // closes the descriptor; pending waiters are dropped, not called
  Transport(const Transport&) = delete;  // the poller and the TLS BIO point at it
  Transport& operator=(const Transport&) = delete;

  // Switches to TLS as the server with a new SSL object from ctx. Throws mqttpki::Error.
  void start_tls_server(SSL_CTX& ctx);
  [[nodiscard]] bool tls() const noexcept { return ssl_ != nullptr; }
  [[nodiscard]] SSL* ssl() const noexcept { return ssl_.get(); }
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }

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
  // The same as a callback, handler(std::error_code), for a connection that holds no coroutine while idle.
  // The handler must keep this Transport alive (e.g. by owning its connection): close() posts it with
  // operation_aborted, which is also what ends the reference cycle.
  template <typename Handler>
  void on_ready(Want want, Handler handler) {
    park(want, Callback([this, h = std::move(handler)](std::error_code ec) mutable { h(after_wait(ec)); }));
  }

  // Best effort, never waits: a TLS close_notify, then TCP FIN. The socket stays open for reading.
  void shutdown_send();
  // Closes the descriptor; every pending waiter is posted with operation_aborted.
  void close() noexcept;

  // What the TLS BIO and the poller use.
  [[nodiscard]] int fd() const noexcept { return fd_; }
  void blocked(Want want) noexcept { (want == Want::read ? readable_ : writable_) = false; }
  void on_events(std::uint32_t events);

 private:
  void park(Want want, Callback cb);
  void post(Callback cb, std::error_code ec);
  [[nodiscard]] std::error_code after_wait(std::error_code ec) const;
  bool usable(std::error_code& ec) const;
  template <typename Call>
  Step tls_step(Call call, std::error_code& ec);
  Step plain_step(long n, int saved_errno, Want blocked_on, std::error_code& ec);
  Step ssl_step(int ret, int saved_errno, std::error_code& ec);

  Poller& poller_;
  int fd_ = -1;
  // Edge-triggered readiness: set by the poller, cleared when a read/write returns EAGAIN (also inside
  // OpenSSL, through the BIO). Starts set, so the first wait completes at once and the step finds out.
  bool readable_ = true;
  bool writable_ = true;
  Callback read_waiter_;
  Callback write_waiter_;
  std::vector<std::pair<Want, Callback>> more_waiters_;  // a second waiter for a direction (rare)
  SslPtr ssl_;
};

}  // namespace mqttpki::net::detail
