#pragma once
// TLS contexts for the broker and the client (plain OpenSSL; the Asio layer wraps the SSL_CTX), the
// verify callback that turns verification failures into one human line, and connection summaries.

#include "ossl.hpp"

#include <mqttpki/net/broker_config.hpp>
#include <mqttpki/net/client.hpp>

#include <string>
#include <string_view>

namespace mqttpki::net::detail {

// TLS 1.2 minimum (or 1.3), ECDHE AEAD ciphers only for 1.2, no compression, no renegotiation,
// certificate chain + key checked against each other, client verification per require_certificate,
// CRL checking when a crlfile is given. Throws mqttpki::Error naming the file and the fix.
SslCtxPtr make_server_ctx(const ListenerConfig& listener);
SslCtxPtr make_client_ctx(const ClientTlsOptions& options);

// Per-connection facts the verify callback needs to explain a failure, attached to the SSL object.
struct VerifyReport {
  std::string peer_role;  // "client certificate" (broker side) or "server certificate" (client side)
  std::string cafile;     // as configured, for "is not signed by ca.crt"
  std::string crlfile;
  std::string host;  // the name the client expects in the server's SAN
  std::string message;  // the first failure, filled by the callback
};
void attach_report(SSL& ssl, VerifyReport& report);
void detach_report(SSL& ssl) noexcept;  // before the report goes away

// Client side, per connection: SNI (DNS names only), hostname or IP check against the SAN.
void set_client_peer_checks(SSL& ssl, const std::string& host, bool insecure);

// One line explaining a failed handshake or a TLS read error, from the verify report when the
// callback recorded something, else from the TLS error text (alerts from the peer included).
std::string describe_tls_failure(std::string_view error_text, const VerifyReport& report, bool server_side);

std::string peer_common_name(const SSL& ssl);  // CN of the verified peer certificate, "" if none
std::string tls_summary(const SSL& ssl);       // "TLSv1.3 TLS_AES_256_GCM_SHA384"

}  // namespace mqttpki::net::detail
