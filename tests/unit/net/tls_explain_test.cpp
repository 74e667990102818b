// The one-line explanations of TLS failures that are not verification results (those are covered
// end to end in broker_client_test.cpp): TLS alerts from the peer and transport errors.

#include "tls.hpp"

#include <catch2/catch.hpp>

using mqttpki::net::detail::describe_tls_failure;
using mqttpki::net::detail::VerifyReport;

TEST_CASE("a recorded verification failure wins over the TLS error text", "[tls]") {
  VerifyReport r;
  r.message = "client certificate 'pi1' expired on 2020-01-02 00:00:00 UTC; renew it";
  CHECK(describe_tls_failure("certificate verify failed (SSL routines)", r, true) == r.message);
}

TEST_CASE("broker side: what the client did wrong", "[tls]") {
  VerifyReport r;
  CHECK(describe_tls_failure("peer did not return a certificate (SSL routines)", r, true) ==
        "no client certificate presented (this listener has require_certificate true)");
  CHECK(describe_tls_failure("tlsv1 alert unknown ca (SSL routines)", r, true) ==
        "the client does not trust our server certificate (unknown CA)");
  CHECK(describe_tls_failure("no shared cipher (SSL routines)", r, true) ==
        "no common TLS version or cipher (no shared cipher (SSL routines)); TLS 1.2+ with ECDHE is required");
  CHECK(describe_tls_failure("unsupported protocol (SSL routines)", r, true).starts_with("no common TLS version"));
  CHECK(describe_tls_failure("wrong version number (SSL routines)", r, true).ends_with("is this a plain MQTT port?"));
  CHECK(describe_tls_failure("End of file", r, true) == "the peer closed the connection during the TLS handshake");
}

TEST_CASE("client side: TLS alerts are the broker refusing our certificate", "[tls]") {
  VerifyReport r;
  CHECK(describe_tls_failure("tlsv13 alert certificate required (SSL routines)", r, false) ==
        "broker refused: it requires a client certificate; pass --cert and --key");
  // The same alerts come from CRL trouble on the broker's side: the message names both causes.
  CHECK(describe_tls_failure("tlsv1 alert unknown ca", r, false) ==
        "broker refused our client certificate: unknown CA (it is not signed by the broker's cafile, or the "
        "broker's crlfile holds no CRL from our CA)");
  CHECK(describe_tls_failure("sslv3 alert certificate expired", r, false) ==
        "broker refused our client certificate as expired: renew it if it has expired; if not, the broker's CRL is "
        "past its next update (regenerate it with 'mqttpki crl' and reload the broker)");
  CHECK(describe_tls_failure("sslv3 alert certificate revoked", r, false) ==
        "broker refused our client certificate: it is revoked");
  CHECK(describe_tls_failure("sslv3 alert bad certificate", r, false).starts_with("broker refused our client certificate (bad certificate)"));
  CHECK(describe_tls_failure("something new", r, false) == "TLS handshake failed: something new");
}
