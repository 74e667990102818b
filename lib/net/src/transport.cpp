#include "transport.hpp"

#include <mqttpki/pki/error.hpp>

#include <asio/ssl/error.hpp>
#include <fmt/format.h>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace mqttpki::net::detail {

namespace {

// A socket BIO that writes with MSG_NOSIGNAL: OpenSSL's own socket BIO uses plain send(), so a write to a
// connection the peer has just reset would raise SIGPIPE and kill the whole process (asio's sockets use
// MSG_NOSIGNAL, and a library should not change the process's signal handling). Its data is the Transport:
// the descriptor is borrowed, and a read or write that would block clears the Transport's readiness.
Transport& transport_of(BIO* b) { return *static_cast<Transport*>(BIO_get_data(b)); }

bool would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

int nosig_write(BIO* b, const char* data, std::size_t len, std::size_t* written) {
  BIO_clear_retry_flags(b);
  Transport& t = transport_of(b);
  ssize_t n = ::send(t.fd(), data, len, MSG_NOSIGNAL);
  if (n >= 0) {
    *written = static_cast<std::size_t>(n);
    return 1;
  }
  if (would_block(errno)) {
    if (errno != EINTR) t.blocked(Transport::Want::write);
    BIO_set_retry_write(b);
  }
  return 0;  // errno stays for SSL_ERROR_SYSCALL
}

int nosig_read(BIO* b, char* data, std::size_t len, std::size_t* read) {
  BIO_clear_retry_flags(b);
  Transport& t = transport_of(b);
  ssize_t n = ::recv(t.fd(), data, len, 0);
  if (n > 0) {
    *read = static_cast<std::size_t>(n);
    return 1;
  }
  if (n == 0) {
    BIO_set_flags(b, BIO_FLAGS_IN_EOF);  // what BIO_eof reports: OpenSSL tells a clean EOF from a reset by it
  } else if (would_block(errno)) {
    if (errno != EINTR) t.blocked(Transport::Want::read);
    BIO_set_retry_read(b);
  }
  return 0;
}

long nosig_ctrl(BIO* b, int cmd, long /*num*/, void* /*ptr*/) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
    default:
      return 0;
  }
}

const BIO_METHOD* nosig_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "mqttpki socket");
    if (m != nullptr && (BIO_meth_set_write_ex(m, nosig_write) != 1 || BIO_meth_set_read_ex(m, nosig_read) != 1 ||
                         BIO_meth_set_ctrl(m, nosig_ctrl) != 1)) {
      BIO_meth_free(m);
      m = nullptr;
    }
    return m;
  }();
  return method;
}

[[noreturn]] void fail_errno(const std::string& what) {
  throw Error(Errc::network, fmt::format("{}: {}", what, std::strerror(errno)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Poller

Poller::Poller(asio::io_context& io) : io_(io) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) fail_errno("cannot create the broker's epoll set");
  int watched = ::fcntl(epoll_fd_, F_DUPFD_CLOEXEC, 0);  // Asio owns (and closes) the copy it waits on
  if (watched < 0) {
    ::close(epoll_fd_);
    fail_errno("cannot create the broker's epoll set");
  }
  watch_ = std::make_unique<asio::posix::stream_descriptor>(io_, watched);
  wait();
}

Poller::~Poller() {
  stop();
  ::close(epoll_fd_);
}

void Poller::stop() noexcept { watch_.reset(); }

void Poller::add(int fd, Transport& t) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &t;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) fail_errno("cannot watch a connection's socket");
}

void Poller::remove(int fd) noexcept { (void)::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void Poller::wait() {
  if (!watch_) return;
  watch_->async_wait(asio::posix::descriptor_base::wait_read, [this](std::error_code ec) {
    if (ec) return;  // stopped
    // Drain the set: Asio watches it edge-triggered, so a batch left behind would not be reported again.
    std::array<epoll_event, 256> events{};
    int n = 0;
    do {
      n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 0);
      for (int i = 0; i < n; ++i) {
        const epoll_event& ev = events[static_cast<std::size_t>(i)];
        static_cast<Transport*>(ev.data.ptr)->on_events(ev.events);
      }
    } while (n == static_cast<int>(events.size()) || (n < 0 && errno == EINTR));
    wait();  // first: the set stays watched even if a waiter throws
    run_ready();
  });
}

void Poller::run_ready() {
  std::vector<Callback> batch;
  batch.swap(ready_);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    try {
      batch[i]({});  // a waiter whose socket another waiter closed meanwhile reports operation_aborted
    } catch (...) {
      for (std::size_t j = i + 1; j < batch.size(); ++j)  // the others still run, later
        asio::post(io_, [cb = std::move(batch[j])]() mutable { cb({}); });
      throw;
    }
  }
  batch.clear();
  if (ready_.empty()) ready_.swap(batch);  // keep the capacity for the next round
}

// ---------------------------------------------------------------------------------------------------
// Transport

Transport::Transport(Socket socket, Poller& poller) : poller_(poller) {
  std::error_code ec;
  int fd = socket.release(ec);
  if (ec || fd < 0) throw Error(Errc::network, "cannot take over a connection's socket: " + ec.message());
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    ::close(fd);
    fail_errno("cannot make the connection's socket non-blocking");
  }
  try {
    poller_.add(fd, *this);
  } catch (...) {
    ::close(fd);
    throw;
  }
  fd_ = fd;
}

Transport::~Transport() {
  // Closing is enough to leave the epoll set (the descriptor is never duplicated), and needs neither the
  // poller nor the io_context: connections still held by queued handlers are destroyed with the io_context.
  if (fd_ >= 0) ::close(fd_);
}

void Transport::start_tls_server(SSL_CTX& ctx) {
  SslPtr ssl(SSL_new(&ctx));
  if (!ssl) throw Error(Errc::crypto, "cannot start TLS on a connection: " + drain_openssl_errors());
  // Partial writes and a moving buffer make SSL_write behave like write(2); buffers go back to the heap
  // whenever they are empty, which is what keeps idle connections small.
  SSL_set_mode(ssl.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
  BIO* bio = nosig_method() != nullptr ? BIO_new(nosig_method()) : nullptr;
  if (bio == nullptr) throw Error(Errc::crypto, "cannot attach TLS to a connection: " + drain_openssl_errors());
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl.get(), bio, bio);  // one BIO both ways; the SSL object owns it
  SSL_set_accept_state(ssl.get());
  ssl_ = std::move(ssl);
}

Transport::Step Transport::ssl_step(int ret, int saved_errno, std::error_code& ec) {
  int err = SSL_get_error(ssl_.get(), ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return Step{0, Want::read};
    case SSL_ERROR_WANT_WRITE:
      return Step{0, Want::write};
    case SSL_ERROR_ZERO_RETURN:
      ec = asio::error::eof;
      break;
    case SSL_ERROR_SYSCALL:
      if (unsigned long e = ERR_peek_error(); e != 0)
        ec = std::error_code(static_cast<int>(e), asio::error::get_ssl_category());
      else if (saved_errno == 0)
        ec = asio::ssl::error::stream_truncated;
      else
        ec = std::error_code(saved_errno, asio::error::get_system_category());
      break;
    default: {
      unsigned long e = ERR_peek_error();
      if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        ec = asio::ssl::error::stream_truncated;
      else
        ec = std::error_code(static_cast<int>(e), asio::error::get_ssl_category());
    }
  }
  ERR_clear_error();  // the queue is per thread, shared by every connection
  return Step{};
}

bool Transport::usable(std::error_code& ec) const {
  ec.clear();
  if (fd_ >= 0) return true;
  ec = asio::error::bad_descriptor;  // never hand a closed (maybe reused) descriptor number to OpenSSL
  return false;
}

template <typename Call>
Transport::Step Transport::tls_step(Call call, std::error_code& ec) {
  ERR_clear_error();
  errno = 0;
  std::size_t n = 0;
  int ret = call(&n);
  int saved_errno = errno;
  if (ret == 1) return Step{n, Want::nothing};
  return ssl_step(ret, saved_errno, ec);
}

Transport::Step Transport::plain_step(long n, int saved_errno, Want blocked_on, std::error_code& ec) {
  if (n >= 0) return Step{static_cast<std::size_t>(n), Want::nothing};
  if (would_block(saved_errno)) {
    if (saved_errno != EINTR) blocked(blocked_on);
    return Step{0, blocked_on};
  }
  ec = std::error_code(saved_errno, asio::error::get_system_category());
  return Step{};
}

Transport::Step Transport::handshake(std::error_code& ec) {
  if (!usable(ec) || !ssl_) return {};
  return tls_step([this](std::size_t*) { return SSL_do_handshake(ssl_.get()); }, ec);
}

Transport::Step Transport::read_some(std::span<std::uint8_t> into, std::error_code& ec) {
  if (!usable(ec) || into.empty()) return {};
  if (!ssl_) {
    ssize_t n = ::recv(fd_, into.data(), into.size(), 0);
    if (n == 0) {
      ec = asio::error::eof;
      return {};
    }
    return plain_step(static_cast<long>(n), errno, Want::read, ec);
  }
  return tls_step([&](std::size_t* n) { return SSL_read_ex(ssl_.get(), into.data(), into.size(), n); }, ec);
}

Transport::Step Transport::write_some(std::span<const std::uint8_t> bytes, std::error_code& ec) {
  if (!usable(ec) || bytes.empty()) return {};
  if (!ssl_) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    return plain_step(static_cast<long>(n), errno, Want::write, ec);  // errno read after the call
  }
  return tls_step([&](std::size_t* n) { return SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), n); }, ec);
}

Transport::Step Transport::discard_input(std::error_code& ec) {
  if (!usable(ec)) return {};
  std::array<std::uint8_t, 4096> sink{};
  ssize_t n = ::recv(fd_, sink.data(), sink.size(), 0);
  if (n == 0) {
    ec = asio::error::eof;
    return {};
  }
  return plain_step(static_cast<long>(n), errno, Want::read, ec);
}

void Transport::post(Callback cb, std::error_code ec) {
  asio::post(poller_.io_, [cb = std::move(cb), ec]() mutable { cb(ec); });
}

void Transport::park(Want want, Callback cb) {
  if (want == Want::nothing) return post(std::move(cb), {});
  if (fd_ < 0) return post(std::move(cb), asio::error::operation_aborted);
  const bool ready = want == Want::read ? readable_ : writable_;
  if (ready) return post(std::move(cb), {});  // an edge came after the step that blocked
  Callback& slot = want == Want::read ? read_waiter_ : write_waiter_;
  if (!slot) {
    slot = std::move(cb);
  } else {
    more_waiters_.emplace_back(want, std::move(cb));
  }
}

void Transport::on_events(std::uint32_t events) {
  const bool in = (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  const bool out = (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
  if (in) readable_ = true;
  if (out) writable_ = true;
  // Collected, not run: the poller runs them once its dispatch loop is done.
  if (in && read_waiter_) poller_.ready_.push_back(std::move(read_waiter_));
  if (out && write_waiter_) poller_.ready_.push_back(std::move(write_waiter_));
  if (!more_waiters_.empty()) {
    auto waiting = std::move(more_waiters_);
    more_waiters_.clear();
    for (auto& [want, cb] : waiting) {
      if ((want == Want::read && in) || (want == Want::write && out)) {
        poller_.ready_.push_back(std::move(cb));
      } else {
        more_waiters_.emplace_back(want, std::move(cb));
      }
    }
  }
}

asio::awaitable<void> Transport::wait(Want want, std::error_code& ec) {
  ec.clear();
  if (want == Want::nothing) co_return;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  co_await asio::async_initiate<decltype(token), void(std::error_code)>(
      [this, want](auto handler) {
        park(want, Callback([h = std::move(handler)](std::error_code e) mutable { std::move(h)(e); }));
      },
      token);
  ec = after_wait(ec);
}

std::error_code Transport::after_wait(std::error_code ec) const {
  // A wait that completed just before another handler closed the socket still reports success.
  if (!ec && fd_ < 0) return asio::error::operation_aborted;
  return ec;
}

void Transport::shutdown_send() {
  if (fd_ < 0) return;
  if (ssl_ && SSL_is_init_finished(ssl_.get())) {
    ERR_clear_error();
    (void)SSL_shutdown(ssl_.get());  // queues close_notify; a full socket buffer just loses it
    ERR_clear_error();
  }
  (void)::shutdown(fd_, SHUT_WR);
}

void Transport::close() noexcept {
  if (fd_ < 0) return;
  poller_.remove(fd_);
  ::close(fd_);
  fd_ = -1;
  try {
    if (read_waiter_) post(std::move(read_waiter_), asio::error::operation_aborted);
    if (write_waiter_) post(std::move(write_waiter_), asio::error::operation_aborted);
    for (auto& entry : more_waiters_) post(std::move(entry.second), asio::error::operation_aborted);
    more_waiters_.clear();
  } catch (...) {  // out of memory while posting: the waiters are dropped (and their connections freed)
    read_waiter_ = Callback();
    write_waiter_ = Callback();
    more_waiters_.clear();
  }
}

}  // namespace mqttpki::net::detail
