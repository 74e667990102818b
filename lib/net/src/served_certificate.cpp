#include <mqttpki/net/served_certificate.hpp>

#include "ossl.hpp"

#include <mqttpki/error.hpp>

#include <fmt/format.h>

#include <sys/socket.h>
#include <sys/time.h>

namespace mqttpki::net {

pki::Bytes served_certificate(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  const std::string where = fmt::format("{}:{}", host, port);
  auto fail = [&](std::string_view step) {
    return Error(Errc::network, fmt::format("{}: {} failed ({})", where, step, detail::drain_openssl_errors()));
  };
  detail::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) throw fail("setting up TLS");
  detail::BioPtr bio(BIO_new_connect(where.c_str()));
  if (!bio) throw fail("setting up the connection");
  const auto seconds = std::max<long>(1, static_cast<long>(timeout.count() / 1000));
  BIO_set_nbio(bio.get(), 1);
  if (BIO_do_connect_retry(bio.get(), static_cast<int>(seconds), 100) != 1) throw fail("connecting");
  // Blocking from here, with bounded reads and writes: a server that accepts and says nothing must not hang us.
  const timeval tv{seconds, 0};
  const int fd = static_cast<int>(BIO_ctrl(bio.get(), BIO_C_GET_FD, 0, nullptr));
  if (fd < 0 || BIO_socket_nbio(fd, 0) != 1 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
    throw fail("setting the socket timeout");
  pki::ossl::UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  if (!ssl) throw fail("setting up TLS");
  SSL_set_bio(ssl.get(), bio.get(), bio.get());
  static_cast<void>(bio.release());  // owned by ssl from here on
  // SNI (a broker behind a name-based proxy); not for an IP address, as RFC 6066 says.
  const bool is_ip = host.find_first_not_of("0123456789.:") == std::string::npos;
  std::string sni = host;
  if (!is_ip && SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, sni.data()) != 1)
    throw fail("setting the server name");
  SSL_connect(ssl.get());  // may fail once the server asks for a client certificate; its own came first
  X509* leaf = SSL_get0_peer_certificate(ssl.get());
  if (leaf == nullptr) throw fail("the TLS handshake (no server certificate received)");
  unsigned char* der = nullptr;
  const int len = i2d_X509(leaf, &der);
  if (len <= 0) throw fail("encoding the server certificate");
  pki::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

}  // namespace mqttpki::net
