#include "tls.hpp"

#include <mqttpki/error.hpp>
#include <mqttpki/text.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>

namespace mqttpki::net::detail {

std::string drain_openssl_errors() {
  std::string text = pki::ossl::drain_errors();
  return text.empty() ? std::string("no OpenSSL error detail") : text;
}

namespace {

// TLS 1.2 suites: forward secrecy (ECDHE) and AEAD only. TLS 1.3 suites are all AEAD with ECDHE/DHE.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

[[noreturn]] void fail(Errc code, const std::string& message) {
  throw Error(code, fmt::format("{} ({})", message, drain_openssl_errors()));
}

// Never prompt on the terminal for a key passphrase: the broker and client use unencrypted keys.
int no_passphrase(char*, int, int, void*) { return 0; }

void require_file(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  if (!in)
    throw Error(Errc::not_found, fmt::format("cannot read {} {}: {}; fix the path", what, path, std::strerror(errno)));
}

void common_setup(SSL_CTX& ctx, TlsVersion min_version) {
  int v = min_version == TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(&ctx, v) != 1) fail(Errc::crypto, "cannot set the minimum TLS version");
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(&ctx, kTls12Ciphers) != 1) fail(Errc::crypto, "cannot set the TLS 1.2 cipher list");
  SSL_CTX_set_default_passwd_cb(&ctx, no_passphrase);
}

void load_cert_and_key(SSL_CTX& ctx, const std::string& certfile, const std::string& keyfile,
                       std::string_view cert_flag, std::string_view key_flag) {
  require_file(certfile, cert_flag);
  require_file(keyfile, key_flag);
  if (SSL_CTX_use_certificate_chain_file(&ctx, certfile.c_str()) != 1)
    fail(Errc::bad_format,
         fmt::format("{} {} is not a PEM certificate; point it at the certificate (PEM)", cert_flag, certfile));
  if (SSL_CTX_use_PrivateKey_file(&ctx, keyfile.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      fail(Errc::mismatch, fmt::format("{} {} does not match {} {}; use the key the certificate was issued for",
                                       key_flag, keyfile, cert_flag, certfile));
    fail(Errc::bad_format, fmt::format("{} {} is not an unencrypted PEM private key; point it at the key "
                                       "that belongs to {}",
                                       key_flag, keyfile, certfile));
  }
  if (SSL_CTX_check_private_key(&ctx) != 1)
    fail(Errc::mismatch, fmt::format("{} {} does not match {} {}; use the key the certificate was issued for",
                                     key_flag, keyfile, cert_flag, certfile));
}

int report_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::string name_cn(const X509_NAME* name) {
  if (name == nullptr) return {};
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return {};
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  if (s == nullptr) return {};
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s))};
}

// A certificate name for a message or log line: the peer chose it, so control characters are masked.
std::string shown_cn(const X509_NAME* name) { return mqttpki::printable(name_cn(name)); }

std::string format_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "an unreadable date";
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string san_list(X509* cert) {
  std::vector<std::string> out;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
      if (n->type == GEN_DNS) {
        const ASN1_STRING* s = n->d.dNSName;
        out.push_back("DNS:" + mqttpki::printable(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                                                 static_cast<std::size_t>(ASN1_STRING_length(s)))));
      } else if (n->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* s = n->d.iPAddress;
        std::array<char, INET6_ADDRSTRLEN> buf{};
        int len = ASN1_STRING_length(s);
        int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
        if (family != 0 && inet_ntop(family, ASN1_STRING_get0_data(s), buf.data(), buf.size()) != nullptr)
          out.push_back(std::string("IP:") + buf.data());
      }
    }
  }
  ERR_clear_error();  // a missing extension is not an error
  return fmt::format("[{}]", fmt::join(out, ", "));
}

std::string explain(int err, X509* cert, int depth, X509* leaf, const VerifyReport& r) {
  std::string cn = cert != nullptr ? shown_cn(X509_get_subject_name(cert)) : std::string();
  std::string who = depth == 0 ? r.peer_role : std::string("CA certificate");
  if (!cn.empty()) who += fmt::format(" '{}'", cn);
  bool server_cert = r.peer_role.starts_with("server");
  std::string anchors = r.cafile.empty() ? std::string("the system CA store") : r.cafile;
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE: {
      // Name the peer's own certificate even when the failure shows up higher in the chain it sent.
      X509* subject = leaf != nullptr ? leaf : cert;
      std::string leaf_cn = subject != nullptr ? shown_cn(X509_get_subject_name(subject)) : std::string();
      std::string leaf_who = leaf_cn.empty() ? r.peer_role : fmt::format("{} '{}'", r.peer_role, leaf_cn);
      std::string issuer = subject != nullptr ? shown_cn(X509_get_issuer_name(subject)) : std::string();
      return fmt::format("{} is not signed by {} (its issuer is '{}'); {}", leaf_who, anchors, issuer,
                         server_cert ? "pass --cafile with the CA that signed the broker's certificate"
                                     : "issue the client certificate from the CA in cafile, or add its CA "
                                       "to cafile");
    }
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return fmt::format("{} expired on {}; renew it", who, format_time(X509_get0_notAfter(cert)));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return fmt::format("{} is not valid before {}; check the clock", who, format_time(X509_get0_notBefore(cert)));
    case X509_V_ERR_CERT_REVOKED: {
      std::string serial = "?";
      if (cert != nullptr) {
        if (const pki::ossl::BignumPtr bn{ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)}) {
          if (const pki::ossl::OpensslStringPtr hex{BN_bn2hex(bn.get())}) serial = hex.get();
        }
      }
      return fmt::format("{} (serial {}) is revoked by {}", who, serial, r.crlfile.empty() ? "the CRL" : r.crlfile);
    }
    case X509_V_ERR_UNABLE_TO_GET_CRL:
      return fmt::format("no CRL from the issuer of {} in {}; add the CA's current CRL", who, r.crlfile);
    case X509_V_ERR_CRL_HAS_EXPIRED:
      return fmt::format("the CRL in {} is past its next update; regenerate it and reload the broker", r.crlfile);
    case X509_V_ERR_CRL_NOT_YET_VALID:
      return fmt::format("the CRL in {} is not valid yet; check the clock", r.crlfile);
    case X509_V_ERR_HOSTNAME_MISMATCH:
      return fmt::format("hostname '{}' not in SAN {} of {}; connect with a name it lists or reissue it", r.host,
                         cert != nullptr ? san_list(cert) : "[]", who);
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return fmt::format("IP address '{}' not in SAN {} of {}; connect with a name it lists or reissue it", r.host,
                         cert != nullptr ? san_list(cert) : "[]", who);
    case X509_V_ERR_INVALID_PURPOSE:
      return fmt::format("{} is not allowed for TLS {} authentication (extendedKeyUsage); reissue it with the "
                         "{} profile",
                         who, server_cert ? "server" : "client", server_cert ? "server" : "client");
    default:
      return fmt::format("{}: {}", who, X509_verify_cert_error_string(err));
  }
}

int verify_callback(int ok, X509_STORE_CTX* store) {
  if (ok == 1) return 1;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* report = ssl != nullptr ? static_cast<VerifyReport*>(SSL_get_ex_data(ssl, report_index())) : nullptr;
  if (report != nullptr && report->message.empty())
    report->message = explain(X509_STORE_CTX_get_error(store), X509_STORE_CTX_get_current_cert(store),
                              X509_STORE_CTX_get_error_depth(store), X509_STORE_CTX_get0_cert(store), *report);
  return 0;
}

void load_crl(SSL_CTX& ctx, const std::string& crlfile) {
  require_file(crlfile, "crlfile");
  BioPtr bio(BIO_new_file(crlfile.c_str(), "r"));
  if (!bio) fail(Errc::io, fmt::format("cannot open crlfile {}", crlfile));
  X509_STORE* store = SSL_CTX_get_cert_store(&ctx);
  int count = 0;
  while (true) {
    X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!crl) break;
    if (X509_STORE_add_crl(store, crl.get()) != 1) fail(Errc::crypto, fmt::format("cannot use the CRL in {}", crlfile));
    ++count;
  }
  if (count == 0) fail(Errc::bad_format, fmt::format("crlfile {} holds no PEM CRL; point it at the CA's crl.pem", crlfile));
  ERR_clear_error();  // the end-of-file "no start line" that ended the loop
  if (X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK) != 1) fail(Errc::crypto, "cannot enable CRL checking");
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

SslCtxPtr make_server_ctx(const ListenerConfig& l) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) fail(Errc::crypto, "cannot create a TLS server context");
  common_setup(*ctx, l.tls_version);
  load_cert_and_key(*ctx, l.certfile, l.keyfile, "certfile", "keyfile");
  if (!l.cafile.empty()) {
    require_file(l.cafile, "cafile");
    if (SSL_CTX_load_verify_locations(ctx.get(), l.cafile.c_str(), nullptr) != 1)
      fail(Errc::bad_format, fmt::format("cafile {} holds no PEM CA certificate; point it at ca.crt", l.cafile));
    // Tell clients which CA we accept, so a client with several certificates picks the right one.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(l.cafile.c_str())) SSL_CTX_set_client_CA_list(ctx.get(), names);
    ERR_clear_error();
  }
  if (!l.crlfile.empty()) load_crl(*ctx, l.crlfile);
  SSL_CTX_set_verify(ctx.get(), l.require_certificate ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE,
                     verify_callback);
  static const unsigned char sid[] = "mqttpki";
  if (SSL_CTX_set_session_id_context(ctx.get(), sid, sizeof sid - 1) != 1) fail(Errc::crypto, "cannot set the session id context");
  // TLS 1.3: one session ticket after each handshake instead of OpenSSL's default two (meant for clients that
  // open several connections at once, like browsers). An MQTT client holds one connection, and every ticket
  // costs the broker an encryption of the whole session, the client's certificate included.
  if (SSL_CTX_set_num_tickets(ctx.get(), 1) != 1) fail(Errc::crypto, "cannot set the number of session tickets");
  return ctx;
}

SslCtxPtr make_client_ctx(const ClientTlsOptions& o) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) fail(Errc::crypto, "cannot create a TLS client context");
  common_setup(*ctx, TlsVersion::tls1_2);
  if (!o.cafile.empty()) {
    require_file(o.cafile, "--cafile");
    if (SSL_CTX_load_verify_locations(ctx.get(), o.cafile.c_str(), nullptr) != 1)
      fail(Errc::bad_format, fmt::format("--cafile {} holds no PEM CA certificate; point it at ca.crt", o.cafile));
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    fail(Errc::crypto, "cannot load the system CA store; pass --cafile");
  }
  if (o.certfile.empty() != o.keyfile.empty())
    throw Error(Errc::invalid_argument, "--cert and --key go together; pass both or neither");
  if (!o.certfile.empty()) load_cert_and_key(*ctx, o.certfile, o.keyfile, "--cert", "--key");
  SSL_CTX_set_verify(ctx.get(), o.insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, verify_callback);
  return ctx;
}

void attach_report(SSL& ssl, VerifyReport& report) {
  if (SSL_set_ex_data(&ssl, report_index(), &report) != 1) fail(Errc::crypto, "cannot attach verify report");
}

void detach_report(SSL& ssl) noexcept { (void)SSL_set_ex_data(&ssl, report_index(), nullptr); }

void set_client_peer_checks(SSL& ssl, const std::string& host, bool insecure) {
  std::array<unsigned char, 16> addr{};
  bool is_ip = inet_pton(AF_INET, host.c_str(), addr.data()) == 1 || inet_pton(AF_INET6, host.c_str(), addr.data()) == 1;
  if (!is_ip && !host.empty() && SSL_ctrl(&ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                          const_cast<char*>(host.c_str())) != 1)
    fail(Errc::invalid_argument, fmt::format("cannot send '{}' as TLS server name", host));
  if (insecure) {
    SSL_set_verify(&ssl, SSL_VERIFY_NONE, nullptr);
    return;
  }
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(&ssl), host.c_str()) != 1)
      fail(Errc::invalid_argument, fmt::format("'{}' is not a valid IP address", host));
  } else {
    SSL_set_hostflags(&ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(&ssl, host.c_str()) != 1) fail(Errc::invalid_argument, fmt::format("cannot check host name '{}'", host));
  }
}

std::string describe_tls_failure(std::string_view error_text, const VerifyReport& report, bool server_side) {
  if (!report.message.empty()) return report.message;
  std::string t = lower(error_text);
  auto has = [&](std::string_view s) { return t.find(s) != std::string::npos; };
  if (has("peer did not return a certificate"))
    return "no client certificate presented (this listener has require_certificate true)";
  if (!server_side) {
    if (has("certificate required"))
      return "broker refused: it requires a client certificate; pass --cert and --key";
    // OpenSSL sends the same alerts for CRL trouble on the broker's side: "unknown CA" when its crlfile has
    // no CRL from our CA, "certificate expired" when that CRL is past its next update.
    if (has("unknown ca"))
      return "broker refused our client certificate: unknown CA (it is not signed by the broker's cafile, or the "
             "broker's crlfile holds no CRL from our CA)";
    if (has("certificate expired"))
      return "broker refused our client certificate as expired: renew it if it has expired; if not, the broker's "
             "CRL is past its next update (regenerate it with 'mqttpki crl' and reload the broker)";
    if (has("certificate revoked")) return "broker refused our client certificate: it is revoked";
    if (has("unsupported certificate")) return "broker refused our client certificate: not allowed for TLS client authentication (extendedKeyUsage)";
    if (has("bad certificate") || has("decrypt error"))
      return "broker refused our client certificate (bad certificate); check --cert/--key and the broker's cafile";
  } else {
    if (has("unknown ca")) return "the client does not trust our server certificate (unknown CA)";
    if (has("bad certificate") || has("certificate unknown"))
      return "the client rejected our server certificate (check its CA and the SAN)";
  }
  if (has("wrong version number") || has("packet length too long") || has("http request"))
    return fmt::format("not a TLS peer ({}); is this a plain MQTT port?", error_text);
  if (has("no shared cipher") || has("unsupported protocol") || has("protocol version") || has("no protocols available"))
    return fmt::format("no common TLS version or cipher ({}); TLS 1.2+ with ECDHE is required", error_text);
  if (has("end of file") || has("stream truncated") || has("eof") || has("connection reset"))
    return "the peer closed the connection during the TLS handshake";
  if (has("operation canceled") || has("timed out"))
    return "TLS handshake timed out";
  return fmt::format("TLS handshake failed: {}", error_text);
}

std::string peer_common_name(const SSL& ssl) {
  X509* cert = SSL_get0_peer_certificate(&ssl);
  return cert != nullptr ? name_cn(X509_get_subject_name(cert)) : std::string();
}

std::string tls_summary(const SSL& ssl) {
  const char* cipher = SSL_get_cipher_name(&ssl);
  return fmt::format("{} {}", SSL_get_version(&ssl), cipher != nullptr ? cipher : "?");
}

}  // namespace mqttpki::net::detail
