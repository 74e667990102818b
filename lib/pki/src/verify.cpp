#include <mqttpki/pki/verify.hpp>

#include "ossl.hpp"
#include "pem.hpp"

#include <openssl/pem.h>

#include <arpa/inet.h>

#include <array>

namespace mqttpki::pki {

using detail::Access;

namespace {

bool is_ip_literal(const std::string& host) {
  std::array<unsigned char, 16> buf{};
  return inet_pton(AF_INET, host.c_str(), buf.data()) == 1 || inet_pton(AF_INET6, host.c_str(), buf.data()) == 1;
}


}  // namespace

VerifyResult verify_chain(const std::vector<Certificate>& ca_certs, const Certificate& cert,
                          const VerifyOptions& options) {
  if (ca_certs.empty()) throw Error(Errc::invalid_argument, "no CA certificate to verify against");
  ossl::X509StorePtr store(ossl::check_ptr(X509_STORE_new(), "X509_STORE_new"));
  for (const auto& ca : ca_certs) {
    ossl::check(X509_STORE_add_cert(store.get(), Access::x509(ca)) == 1, "X509_STORE_add_cert");
  }
  unsigned long flags = 0;
  if (options.strict) flags |= X509_V_FLAG_X509_STRICT;
  if (options.partial_chain) flags |= X509_V_FLAG_PARTIAL_CHAIN;
  if (!options.crls.empty()) {
    flags |= X509_V_FLAG_CRL_CHECK;
    for (const auto& data : options.crls) {
      auto crl = ossl::parse_crl(data);
      ossl::check(X509_STORE_add_crl(store.get(), crl.get()) == 1, "X509_STORE_add_crl");
    }
  }
  ossl::X509StackPtr untrusted(ossl::check_ptr(sk_X509_new_null(), "sk_X509_new_null"));
  for (const auto& c : options.intermediates) {
    ossl::check(X509_add_cert(untrusted.get(), Access::x509(c), X509_ADD_FLAG_UP_REF) == 1, "X509_add_cert");
  }
  ossl::X509StoreCtxPtr ctx(ossl::check_ptr(X509_STORE_CTX_new(), "X509_STORE_CTX_new"));
  ossl::check(X509_STORE_CTX_init(ctx.get(), store.get(), Access::x509(cert), untrusted.get()) == 1,
              "X509_STORE_CTX_init");
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, ossl::to_time_t(options.now));
  X509_VERIFY_PARAM_set_flags(param, flags);
  switch (options.purpose) {
    case Purpose::server:
      ossl::check(X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER) == 1, "X509_STORE_CTX_set_purpose");
      break;
    case Purpose::client:
      ossl::check(X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT) == 1, "X509_STORE_CTX_set_purpose");
      break;
    case Purpose::any:
      break;
  }
  if (options.host) {
    const std::string& host = *options.host;
    if (is_ip_literal(host)) {
      ossl::check(X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1, "X509_VERIFY_PARAM_set1_ip_asc");
    } else {
      ossl::check(X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1, "X509_VERIFY_PARAM_set1_host");
    }
  }
  int rc = X509_verify_cert(ctx.get());
  VerifyResult result;
  if (rc == 1) {
    ERR_clear_error();
    result.ok = true;
    result.reason = "ok";
    return result;
  }
  result.error = X509_STORE_CTX_get_error(ctx.get());
  if (rc < 0 && result.error == X509_V_OK) throw ossl::openssl_error("X509_verify_cert");
  ERR_clear_error();
  const char* text = X509_verify_cert_error_string(result.error);
  result.reason = text != nullptr ? text : "unknown verification error";
  result.error_depth = X509_STORE_CTX_get_error_depth(ctx.get());
  if (X509* at = X509_STORE_CTX_get_current_cert(ctx.get())) {
    result.error_subject = Access::make_name(X509_get_subject_name(at)).to_string();
  }
  return result;
}

VerifyResult verify_chain(const std::vector<Certificate>& ca_certs, const Certificate& cert, Purpose purpose,
                          TimePoint now, const std::optional<std::string>& host) {
  VerifyOptions options;
  options.purpose = purpose;
  options.now = now;
  options.host = host;
  return verify_chain(ca_certs, cert, options);
}

bool signed_by(const Certificate& cert, const Certificate& ca) {
  EVP_PKEY* key = X509_get0_pubkey(Access::x509(ca));
  if (key == nullptr) throw ossl::openssl_error("reading the CA certificate's public key", Errc::bad_format);
  const bool ok = X509_verify(Access::x509(cert), key) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace mqttpki::pki
