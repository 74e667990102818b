#include "transport.hpp"

#include <mqttpki/pki/error.hpp>

#include <asio/ssl/error.hpp>
#include <fmt/format.h>

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace mqttpki::net::detail {

namespace {

// A socket BIO that writes with MSG_NOSIGNAL: OpenSSL's own socket BIO uses plain send(), so a write to a
// connection the peer has just reset would raise SIGPIPE and kill the whole process (asio's sockets use
// MSG_NOSIGNAL, and a library should not change the process's signal handling). Its data is the Transport,
// whose descriptor it borrows.
Transport& transport_of(BIO* b) { return *static_cast<Transport*>(BIO_get_data(b)); }

bool would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

// An interrupted call is repeated here: the caller waits for readiness only after EAGAIN, when a new edge
// is sure to come.
ssize_t send_some(int fd, const void* data, std::size_t len) {
  ssize_t n = 0;
  do {
    n = ::send(fd, data, len, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

ssize_t recv_some(int fd, void* data, std::size_t len) {
  ssize_t n = 0;
  do {
    n = ::recv(fd, data, len, 0);
  } while (n < 0 && errno == EINTR);
  return n;
}

int nosig_write(BIO* b, const char* data, std::size_t len, std::size_t* written) {
  BIO_clear_retry_flags(b);
  Transport& t = transport_of(b);
  ssize_t n = send_some(t.fd(), data, len);
  if (n >= 0) {
    *written = static_cast<std::size_t>(n);
    return 1;
  }
  if (would_block(errno)) BIO_set_retry_write(b);
  return 0;  // errno stays for SSL_ERROR_SYSCALL
}

int nosig_read(BIO* b, char* data, std::size_t len, std::size_t* read) {
  BIO_clear_retry_flags(b);
  Transport& t = transport_of(b);
  ssize_t n = recv_some(t.fd(), data, len);
  if (n > 0) {
    *read = static_cast<std::size_t>(n);
    return 1;
  }
  if (n == 0) {
    BIO_set_flags(b, BIO_FLAGS_IN_EOF);  // what BIO_eof reports: OpenSSL tells a clean EOF from a reset by it
  } else if (would_block(errno)) {
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

}  // namespace

Transport::Transport(Socket socket) : socket_(std::move(socket)) {
  // Non-blocking for the steps, which call recv/send (and OpenSSL, through the BIO) on the descriptor.
  std::error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) throw Error(Errc::network, "cannot make the connection's socket non-blocking: " + ec.message());
}

void Transport::start_tls_server(SSL_CTX& ctx) {
  SslPtr ssl(SSL_new(&ctx));
  if (!ssl) throw Error(Errc::crypto, "cannot start TLS on a connection: " + drain_openssl_errors());
  // Partial writes and a moving buffer make SSL_write behave like write(2); buffers go back to the heap
  // whenever they are empty, which is what keeps idle connections small.
  SSL_set_mode(ssl.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
  // One recv() takes all the records the socket holds (up to OpenSSL's buffer), not two per record: a
  // publisher's many small records cost one system call per batch. The steps read until the socket would
  // block, so nothing waits unseen in OpenSSL's buffer.
  SSL_set_read_ahead(ssl.get(), 1);
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
  if (socket_.is_open()) return true;
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
  if (would_block(saved_errno)) return Step{0, blocked_on};
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
    ssize_t n = recv_some(fd(), into.data(), into.size());
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
    ssize_t n = send_some(fd(), bytes.data(), bytes.size());
    return plain_step(static_cast<long>(n), errno, Want::write, ec);  // errno read after the call
  }
  return tls_step([&](std::size_t* n) { return SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), n); }, ec);
}

Transport::Step Transport::discard_input(std::error_code& ec) {
  if (!usable(ec)) return {};
  std::array<std::uint8_t, 4096> sink{};
  ssize_t n = recv_some(fd(), sink.data(), sink.size());
  if (n == 0) {
    ec = asio::error::eof;
    return {};
  }
  return plain_step(static_cast<long>(n), errno, Want::read, ec);
}

asio::socket_base::wait_type Transport::wait_type(Want want) noexcept {
  return want == Want::write ? asio::socket_base::wait_write : asio::socket_base::wait_read;
}

asio::awaitable<void> Transport::wait(Want want, std::error_code& ec) {
  ec.clear();
  if (want == Want::nothing) co_return;
  co_await socket_.async_wait(wait_type(want), asio::redirect_error(asio::use_awaitable, ec));
  if (ec != asio::error::operation_aborted) ec = after_wait(ec);  // else the Transport may be gone
}

std::error_code Transport::after_wait(std::error_code ec) const {
  // A wait that completed just before another handler closed the socket, or one started after close()
  // (bad_descriptor from Asio), reports the close.
  if (!socket_.is_open()) return asio::error::operation_aborted;
  return ec;
}

void Transport::shutdown_send() {
  if (!socket_.is_open()) return;
  if (ssl_ && SSL_is_init_finished(ssl_.get())) {
    ERR_clear_error();
    (void)SSL_shutdown(ssl_.get());  // queues close_notify; a full socket buffer just loses it
    ERR_clear_error();
  }
  std::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_send, ignored);
}

void Transport::close() noexcept {
  std::error_code ignored;
  socket_.close(ignored);  // Asio completes the pending waits with operation_aborted
}

}  // namespace mqttpki::net::detail
