#pragma once
// Which certificate a running TLS server presents: for `mqttpki status --broker`, to tell whether a broker
// still serves an old certificate after a renewal (it was not deployed or not reloaded).

#include <mqttpki/pki/types.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace mqttpki::net {

// Opens a TLS connection to host:port without a client certificate and returns the leaf certificate the
// server sends (DER). The server's certificate is not verified here (the caller compares it with its
// records), and a server that then refuses us for lacking a client certificate is fine: it has already sent
// its own. Errc::network naming host:port and the reason (connect, handshake, no certificate, timeout).
pki::Bytes served_certificate(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace mqttpki::net
