#pragma once
// Chain verification with OpenSSL's X509_verify_cert, as a TLS peer would do it.

#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/types.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mqttpki::pki {

enum class Purpose {
  any,     // chain and validity only
  server,  // X509_PURPOSE_SSL_SERVER (EKU serverAuth if EKU present, ...)
  client,  // X509_PURPOSE_SSL_CLIENT
};

struct VerifyOptions {
  Purpose purpose = Purpose::any;
  TimePoint now = std::chrono::system_clock::now();
  // Host name or IP address literal the certificate must match (X509_VERIFY_PARAM_set1_host /
  // set1_ip_asc). IP literals are matched against IP SANs only.
  std::optional<std::string> host;
  std::vector<Certificate> intermediates;  // untrusted certificates that may complete the chain
  std::vector<Bytes> crls;                 // PEM or DER CRLs; when given, revocation is checked for the
                                           // leaf (X509_V_FLAG_CRL_CHECK)
  bool strict = true;                      // X509_V_FLAG_X509_STRICT
  // Accept a chain that ends at any certificate in ca_certs, self-signed or not
  // (X509_V_FLAG_PARTIAL_CHAIN), e.g. an intermediate CA trusted on its own.
  bool partial_chain = false;
};

struct VerifyResult {
  bool ok = false;
  int error = 0;          // X509_V_OK (0) or an X509_V_ERR_* code
  std::string reason;     // OpenSSL's text, e.g. "certificate has expired"; "ok" when ok
  int error_depth = 0;    // 0 = the certificate itself
  std::string error_subject;  // subject of the certificate at error_depth ("" when ok)
  explicit operator bool() const noexcept { return ok; }
};

// Verify `cert` against the trusted `ca_certs`. Never throws for a verification failure (the result says
// why); throws Errc::invalid_argument for an empty ca_certs, Errc::bad_format for a CRL that does not
// parse, Errc::crypto if OpenSSL fails.
VerifyResult verify_chain(const std::vector<Certificate>& ca_certs, const Certificate& cert,
                          const VerifyOptions& options);
VerifyResult verify_chain(const std::vector<Certificate>& ca_certs, const Certificate& cert, Purpose purpose,
                          TimePoint now, const std::optional<std::string>& host = std::nullopt);

// True when the certificate's signature verifies with the CA certificate's public key (nothing else checked:
// not the time, the names or the extensions).
[[nodiscard]] bool signed_by(const Certificate& cert, const Certificate& ca);

}  // namespace mqttpki::pki
