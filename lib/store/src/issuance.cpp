#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/text.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/issuance.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace mqttpki::store {

namespace {

std::string to_text(const pki::Bytes& der) { return std::string(reinterpret_cast<const char*>(der.data()), der.size()); }

std::string fresh_serial(const Index& index, const pki::RandomSource& random) {
  for (;;) {
    std::string serial = pki::random_serial(random);
    if (!index.has_serial(serial)) return serial;
  }
}

// Runs f; errors about the request name where it came from ("server.csr: ..."); errors about the CA already
// name ca.crt.
template <typename F>
auto about_request(const std::string& source, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    const bool about_ca = e.code() == Errc::expired || e.code() == Errc::mismatch || e.code() == Errc::crypto;
    if (about_ca || source.empty()) throw;
    throw Error(e.code(), fmt::format("{}: {}", source, e.what()));
  }
}

}  // namespace

IndexEntry make_entry(const pki::Certificate& cert, std::string_view name, std::string_view profile,
                      TimePoint issued_at) {
  IndexEntry e;
  e.serial = cert.serial_hex();
  e.name = std::string(name);
  e.cn = cert.subject().common_name().value_or("");
  e.subject = cert.subject().to_string();
  e.profile = std::string(profile);
  e.not_before = std::chrono::time_point_cast<std::chrono::seconds>(cert.not_before());
  e.not_after = std::chrono::time_point_cast<std::chrono::seconds>(cert.not_after());
  e.issued_at = std::chrono::time_point_cast<std::chrono::seconds>(issued_at);
  e.status = CertStatus::valid;
  e.file = CaLayout::issued_relative(name);
  e.sha256 = cert.fingerprint_sha256();
  e.public_key_sha256 = pki::sha256_fingerprint(cert.public_key_der());  // as stored: no key re-encoding
  return e;
}

void prepare_order(IssueOrder& order) {
  validate_name(order.name);
  about_request(order.source, [&] {
    pki::check_names(order.request.subject, order.request.sans);
    return 0;
  });
  if (!order.request.serial) order.request.serial = pki::random_serial(order.request.random);
}

SignedOrder sign_order(const pki::Issuer& issuer, IssueOrder order) {
  order.request.ca_label = issuer.ca_label();
  pki::IssueResult result = about_request(order.source, [&] { return issuer.issue(order.request); });
  IndexEntry entry = make_entry(result.certificate, order.name, pki::to_string(order.request.profile),
                                order.request.now);
  std::string der = to_text(result.certificate.to_der());
  return SignedOrder{std::move(order), issuer, std::move(result), std::move(entry), std::move(der)};
}

Issued record_order(Index& index, SignedOrder s) {
  if (index.has_serial(s.entry.serial)) {
    s.order.request.serial = fresh_serial(index, s.order.request.random);
    const pki::Issuer issuer = s.issuer;
    s = sign_order(issuer, std::move(s.order));
  }
  IssueOrder& order = s.order;
  if (order.adopt) {
    IndexEntry old = make_entry(*order.adopt, order.name, s.entry.profile, order.adopt->not_before());
    old.file = order.adopt_file;
    index.add(old, to_text(order.adopt->to_der()), /*queue_file=*/false);
    order.supersede.push_back(old.serial);
  }
  index.add(s.entry, s.der, /*queue_file=*/true);
  for (const auto& old : order.supersede) index.mark_superseded(old, s.entry.serial);
  return Issued{std::move(s.result.certificate), std::move(s.entry), std::move(s.result.warnings)};
}

Issued issue_certificate(Index& index, const CaMaterial& ca, IssueOrder order) {
  prepare_order(order);
  // The CA's own refusals (not a CA, key mismatch) come from here, named as the request's errors are.
  const pki::Issuer issuer = about_request(order.source, [&] { return ca.issuer(); });
  return record_order(index, sign_order(issuer, std::move(order)));
}

std::vector<std::string> check_name_free(const Index& index, const CaLayout& layout, std::string_view name,
                                         std::string_view cn, std::string_view key_sha256, pki::Profile profile,
                                         bool force, TimePoint now, std::string_view source) {
  std::vector<std::string> supersede;
  if (!force && index.by_name(name).empty() && path_exists(layout.issued_cert(name)))
    throw Error(Errc::already_exists,
                fmt::format("{} exists but this CA never recorded a certificate under that name; use --force to "
                            "overwrite it or choose another --name",
                            layout.issued_cert(name).string()));
  for (const auto& held : index.valid_by_name(name)) {
    if (held.is_current(now) && !force)
      throw Error(Errc::already_exists,
                  fmt::format("{} exists and is valid (serial {}, until {}); use --force to replace it (the old one "
                              "is marked superseded) or choose another --name",
                              layout.issued_cert(name).string(), held.serial, format_time(held.not_after)));
    supersede.push_back(held.serial);
  }
  if (profile != pki::Profile::client) return supersede;
  for (const auto& held : index.valid_by_cn(cn)) {
    const bool replaced = std::find(supersede.begin(), supersede.end(), held.serial) != supersede.end();
    if (held.is_current(now) && !replaced && held.public_key_sha256 != key_sha256)
      throw Error(Errc::policy,
                  fmt::format("{}: CN '{}' is already the MQTT user name of valid certificate '{}' (serial {}) with a "
                              "different key; revoke that one first or use another --cn",
                              source, cn, held.name, held.serial));
  }
  return supersede;
}

}  // namespace mqttpki::store
