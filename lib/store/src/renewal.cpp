#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/renewal.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <unordered_set>

namespace mqttpki::store {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr auto day = std::chrono::hours{24};

// "FILE: message", keeping the error code.
[[noreturn]] void rethrow_with_file(const Error& e, const fs::path& file) {
  throw Error(e.code(), fmt::format("{}: {}", file.string(), e.what()));
}

std::string utc_stamp(TimePoint now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// "30d", "12h", "90m", "45s": the shortest exact spelling parse_duration() accepts.
std::string format_window(std::chrono::seconds s) {
  const auto n = s.count();
  if (n != 0 && n % 86400 == 0) return fmt::format("{}d", n / 86400);
  if (n != 0 && n % 3600 == 0) return fmt::format("{}h", n / 3600);
  if (n != 0 && n % 60 == 0) return fmt::format("{}m", n / 60);
  return fmt::format("{}s", n);
}

std::string expiry_phrase(TimePoint not_after, TimePoint now) {
  const long days = pki::days_between(now, not_after);
  if (not_after <= now) return fmt::format("expired on {} ({} days ago)", pki::format_date(not_after), -days);
  return fmt::format("expires on {} (in {} days)", pki::format_date(not_after), days);
}

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
  e.sha256 = cert.fingerprint_sha256();
  const pki::Bytes spki = cert.public_key_der();
  e.public_key_sha256 = pki::sha256_fingerprint(spki);
  return e;
}

pki::Profile profile_of(const pki::Certificate& cert) {
  const auto eku = cert.extended_key_usage();
  return std::find(eku.begin(), eku.end(), "serverAuth") != eku.end() ? pki::Profile::server : pki::Profile::client;
}

pki::Profile profile_from_entry(const IndexEntry& entry, const pki::Certificate& cert) {
  try {
    if (!entry.profile.empty()) return pki::parse_profile(entry.profile);
  } catch (const Error&) {  // an index written by hand or by a newer version: fall back to the certificate
  }
  return profile_of(cert);
}

std::string fresh_serial(const Index& index, const pki::RandomSource& random) {
  for (;;) {
    std::string serial = pki::random_serial(random);
    if (!index.has_serial(serial)) return serial;
  }
}

fs::path cert_path_of(const CaFolder& folder, const IndexEntry& entry) {
  const fs::path relative = entry.file.empty() ? fs::path(CaLayout::issued_relative(entry.name)) : fs::path(entry.file);
  return folder.layout().dir / relative;
}

// Issues `request` under the CA and records it as NAME, superseding `supersede`. Per-certificate problems
// become a failed item; index and file errors propagate.
RenewItem issue_and_record(const CaFolder& folder, Index& index, const CaMaterial& ca, pki::IssueRequest request,
                           RenewItem item, const std::vector<std::string>& supersede,
                           std::optional<IndexEntry> import_old, bool require_gain, int days,
                           const LeafRenewOptions& options) {
  const TimePoint now = options.now;
  request.days = days;
  request.now = now;
  request.random = options.random;
  request.serial = fresh_serial(index, options.random);
  request.ca_label = ca.cert_path.string();

  const TimePoint ca_end = ca.cert.not_after();
  const TimePoint wanted_end = now + days * day;
  if (wanted_end > ca_end && require_gain && ca_end <= item.old_not_after + 1h) {
    item.status = RenewStatus::failed;
    item.message = fmt::format(
        "the CA certificate {} expires on {}, no later than this certificate, so renewing gains nothing; renew the "
        "CA first with `mqttpki renew --ca` (same key: issued certificates keep working), then renew again",
        ca.cert_path.string(), pki::format_date(ca_end));
    return item;
  }

  std::optional<pki::IssueResult> result;
  try {
    result = ca.issuer().issue(request);
  } catch (const Error& e) {
    if (e.code() == Errc::io || e.code() == Errc::locked) throw;
    item.status = RenewStatus::failed;
    item.message = e.what();
    return item;
  }
  const std::string profile(pki::to_string(request.profile));
  if (import_old) index.add(*import_old);
  IndexEntry entry = make_entry(result->certificate, item.name, profile, now);
  std::vector<std::string> superseded = supersede;
  if (import_old) superseded.push_back(import_old->serial);
  folder.record_issued(index, entry, result->certificate.to_pem(), superseded);

  item.status = RenewStatus::renewed;
  item.new_serial = entry.serial;
  item.new_not_after = result->certificate.not_after();
  item.cert_path = folder.layout().issued_cert(item.name);
  item.warnings = std::move(result->warnings);
  if (options.within && days * day <= *options.within)
    item.warnings.push_back(fmt::format("it lives {} days, no longer than the {} renewal window, so every run with "
                                        "--within {} renews it again; give it a longer validity with --days",
                                        days, format_window(*options.within), format_window(*options.within)));
  if (wanted_end > ca_end)
    item.warnings.push_back(fmt::format("validity capped at the CA's expiry ({}); run `mqttpki renew --ca`, then "
                                        "renew this certificate again",
                                        pki::format_date(ca_end)));
  return item;
}

// Loads and checks NAME's certificate file against its index entry. nullopt (and item failed) on a problem.
std::optional<pki::Certificate> load_indexed(const CaFolder& folder, const IndexEntry& entry, RenewItem& item) {
  const fs::path path = cert_path_of(folder, entry);
  try {
    pki::Certificate cert = pki::Certificate::load(read_file(path));
    if (cert.serial_hex() != entry.serial) {
      item.status = RenewStatus::failed;
      item.message = fmt::format("{} holds serial {}, but the index lists {} as {}'s current certificate; restore "
                                 "the file or re-issue it with `mqttpki sign`",
                                 path.string(), cert.serial_hex(), entry.serial, entry.name);
      return std::nullopt;
    }
    return cert;
  } catch (const Error& e) {
    item.status = RenewStatus::failed;
    item.message = fmt::format("{}: {}; restore the file or re-issue the certificate with `mqttpki sign`",
                               path.string(), e.what());
    return std::nullopt;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------

CaMaterial load_ca_files(const fs::path& cert_path, const fs::path& key_path, const PassphraseRequest& passphrase) {
  const std::string cert_text = read_file(cert_path);
  std::optional<pki::Certificate> cert;
  try {
    cert = pki::Certificate::load(cert_text);
  } catch (const Error& e) {
    rethrow_with_file(e, cert_path);
  }
  const std::string key_text = read_file(key_path);
  std::optional<pki::PrivateKey> key;
  try {
    if (pki::PrivateKey::is_encrypted(pki::as_bytes(key_text))) {
      std::optional<Secret> secret = read_passphrase(passphrase);
      if (!secret)
        throw Error(Errc::bad_passphrase,
                    fmt::format("{}: the CA key is encrypted; give its passphrase with --passphrase-file FILE or "
                                "the MQTTPKI_PASSPHRASE environment variable",
                                key_path.string()));
      key = pki::PrivateKey::load(key_text, std::string_view(secret->view()));
    } else {
      key = pki::PrivateKey::load(key_text);
    }
  } catch (const Error& e) {
    if (std::string_view(e.what()).starts_with(key_path.string())) throw;
    rethrow_with_file(e, key_path);
  }
  if (!key->matches(*cert))
    throw Error(Errc::mismatch, fmt::format("{} does not belong to the CA certificate {}; point --ca-key/--ca-cert at a "
                                            "matching pair",
                                            key_path.string(), cert_path.string()));
  return CaMaterial{*cert, *key, cert_path, {}};
}

const pki::Issuer& CaMaterial::issuer() const {
  const std::string label = cert_path.string();
  if (!issuer_cache || !(issuer_cache->ca_certificate() == cert) || issuer_cache->ca_label() != label ||
      !key.matches(issuer_cache->ca_certificate())) {
    issuer_cache = std::make_shared<const pki::Issuer>(cert, key, label);
  }
  return *issuer_cache;
}

CaMaterial load_ca(const CaFolder& folder, const PassphraseRequest& passphrase) {
  return load_ca_files(folder.layout().ca_cert, folder.layout().ca_key, passphrase);
}

void check_ca_usable(const CaMaterial& ca, TimePoint now) {
  if (!ca.cert.is_ca())
    throw Error(Errc::policy, fmt::format("{} is not a CA certificate (no basicConstraints CA:TRUE)", ca.cert_path.string()));
  if (now > ca.cert.not_after())
    throw Error(Errc::expired,
                fmt::format("CA certificate {} expired on {}; run `mqttpki renew --ca` (same key, so issued "
                            "certificates verify again), copy the new ca.crt to every client and the broker, then retry",
                            ca.cert_path.string(), pki::format_date(ca.cert.not_after())));
  if (now < ca.cert.not_before())
    throw Error(Errc::expired, fmt::format("CA certificate {} is not valid before {}; check this machine's clock",
                                           ca.cert_path.string(), pki::format_time(ca.cert.not_before())));
}

int validity_days(TimePoint not_before, TimePoint not_after) {
  const auto span = std::chrono::duration_cast<std::chrono::seconds>(not_after - not_before - pki::backdate);
  const double days = std::round(static_cast<double>(span.count()) / 86400.0);
  return std::clamp(static_cast<int>(days), 1, 36500);
}

fs::path archive_dir(const CaLayout& layout) { return layout.dir / "archive"; }

CaRenewResult renew_ca_certificate(const CaMaterial& ca, const fs::path& archive, const CaRenewOptions& options) {
  pki::RenewCaOptions renew;
  renew.days = options.days.value_or(validity_days(ca.cert.not_before(), ca.cert.not_after()));
  renew.now = options.now;
  renew.random = options.random;
  pki::Certificate fresh = pki::renew_ca(ca.key, ca.cert, renew);

  // The old certificate is archived (its original bytes) before ca.crt is replaced: a crash in between leaves
  // the old ca.crt in place and a spare copy.
  ensure_dir(archive, mode_public_dir);
  const std::string stamp = utc_stamp(options.now);
  fs::path archived = archive / fmt::format("ca-{}.crt", stamp);
  for (int i = 1; path_exists(archived); ++i) archived = archive / fmt::format("ca-{}-{}.crt", stamp, i);
  write_file_atomic(archived, read_file(ca.cert_path), mode_public, /*overwrite=*/false);
  write_file_atomic(ca.cert_path, fresh.to_pem(), mode_public, /*overwrite=*/true);
  return CaRenewResult{ca.cert, fresh, archived, ca.cert_path};
}

// ---------------------------------------------------------------------------------------------------------

std::string_view to_string(RenewStatus status) noexcept {
  switch (status) {
    case RenewStatus::renewed:
      return "renewed";
    case RenewStatus::not_due:
      return "not due";
    case RenewStatus::failed:
      return "failed";
  }
  return "failed";
}

std::vector<std::string> renewable_names(const Index& index) {
  std::vector<std::string> names;
  std::unordered_set<std::string_view> seen;  // a linear search here was a quarter of a 10,000-entry renewal run
  for (const auto& e : index.entries())
    if (e.status == CertStatus::valid && seen.insert(e.name).second) names.push_back(e.name);
  return names;
}

bool is_due(TimePoint not_after, TimePoint now, std::optional<std::chrono::seconds> within) {
  return !within || not_after - now <= *within;
}

RenewItem renew_name(const CaFolder& folder, Index& index, const CaMaterial& ca, std::string_view name,
                     const LeafRenewOptions& options) {
  check_ca_usable(ca, options.now);
  RenewItem item;
  item.name = std::string(name);
  const auto current = index.valid_by_name(name);
  if (current.empty()) {
    item.message = fmt::format("no valid certificate named '{}' in {} (see `mqttpki list`; a revoked one needs a new "
                               "certificate from `mqttpki sign`)",
                               name, folder.layout().index.string());
    return item;
  }
  const IndexEntry entry = *current.front();
  item.old_serial = entry.serial;
  item.old_not_after = entry.not_after;
  if (!is_due(entry.not_after, options.now, options.within)) {
    item.status = RenewStatus::not_due;
    item.message = fmt::format("{}, not within {}", expiry_phrase(entry.not_after, options.now),
                               format_window(*options.within));
    return item;
  }
  std::optional<pki::Certificate> old = load_indexed(folder, entry, item);
  if (!old) return item;

  pki::IssueRequest request;
  request.public_key = old->public_key();
  request.subject = old->subject();
  request.sans = old->sans();
  request.profile = profile_from_entry(entry, *old);
  std::vector<std::string> supersede;
  for (const IndexEntry* e : current) supersede.push_back(e->serial);
  const int days = options.days.value_or(validity_days(old->not_before(), old->not_after()));
  return issue_and_record(folder, index, ca, std::move(request), std::move(item), supersede, std::nullopt,
                          /*require_gain=*/options.within.has_value(), days, options);
}

RenewItem renew_certificate(const CaFolder& folder, Index& index, const CaMaterial& ca, const pki::Certificate& cert,
                            const ImportOptions& import, const LeafRenewOptions& options) {
  check_ca_usable(ca, options.now);
  const std::string label = import.source_label.empty() ? std::string("the certificate") : import.source_label;
  if (!signed_by(cert, ca.cert))
    throw Error(Errc::mismatch, fmt::format("{} was not issued by the CA {} (its issuer is {}); renew it with the CA "
                                            "that signed it",
                                            label, ca.cert_path.string(), cert.issuer().to_string()));
  if (cert.is_ca())
    throw Error(Errc::policy, fmt::format("{} is a CA certificate; renew a CA with `mqttpki renew --ca`", label));

  RenewItem item;
  item.old_serial = cert.serial_hex();
  item.old_not_after = cert.not_after();
  if (const IndexEntry* known = index.find_serial(cert.serial_hex())) {
    item.name = known->name;
    if (known->status == CertStatus::valid) return renew_name(folder, index, ca, known->name, options);
    item.message = known->status == CertStatus::revoked
                       ? fmt::format("{} (serial {}) is revoked; issue a new certificate with `mqttpki sign`", label,
                                     known->serial)
                       : fmt::format("{} (serial {}) was already renewed (superseded by {}); renew '{}' instead", label,
                                     known->serial, known->superseded_by, known->name);
    return item;
  }

  // Issued by this CA outside mqttpki: adopt it under a NAME.
  std::string name;
  if (import.name) {
    validate_name(*import.name);
    name = *import.name;
  } else if (const std::string stem = fs::path(label).stem().string(); !import.source_label.empty() && is_valid_name(stem)) {
    name = stem;
  } else if (auto cn = cert.subject().common_name(); cn && is_valid_name(*cn)) {
    name = *cn;
  } else {
    throw Error(Errc::invalid_argument, fmt::format("{}: cannot derive a certificate name; pass --name NAME", label));
  }
  item.name = name;
  if (const auto taken = index.valid_by_name(name); !taken.empty()) {
    item.message = fmt::format("'{}' already names another certificate in the index (serial {}); pass --name to "
                               "adopt {} under a different name",
                               name, taken.front()->serial, label);
    return item;
  }
  if (!is_due(cert.not_after(), options.now, options.within)) {
    item.status = RenewStatus::not_due;
    item.message = fmt::format("{}, not within {}", expiry_phrase(cert.not_after(), options.now),
                               format_window(*options.within));
    return item;
  }
  pki::IssueRequest request;
  request.public_key = cert.public_key();
  request.subject = cert.subject();
  request.sans = cert.sans();
  for (const auto& san : import.extra_sans)
    if (std::find(request.sans.begin(), request.sans.end(), san) == request.sans.end()) request.sans.push_back(san);
  request.profile = import.profile.value_or(profile_of(cert));
  IndexEntry old_entry = make_entry(cert, name, pki::to_string(request.profile), cert.not_before());
  old_entry.file = fs::absolute(fs::path(import.source_label)).string();
  const int days = options.days.value_or(validity_days(cert.not_before(), cert.not_after()));
  return issue_and_record(folder, index, ca, std::move(request), std::move(item), {}, std::move(old_entry),
                          /*require_gain=*/options.within.has_value(), days, options);
}

RenewItem rekey_name(const CaFolder& folder, Index& index, const CaMaterial& ca, std::string_view name,
                     const pki::Csr& csr, const LeafRenewOptions& options) {
  check_ca_usable(ca, options.now);
  const auto current = index.valid_by_name(name);
  if (current.empty())
    throw Error(Errc::not_found, fmt::format("no valid certificate named '{}' in {} to re-key; issue a first one with "
                                             "`mqttpki sign`",
                                             name, folder.layout().index.string()));
  const IndexEntry entry = *current.front();
  RenewItem item;
  item.name = std::string(name);
  item.old_serial = entry.serial;
  item.old_not_after = entry.not_after;

  csr.verify_signature();
  pki::IssueRequest request = pki::from_csr(csr);
  std::optional<pki::Certificate> old;
  {
    RenewItem scratch;
    old = load_indexed(folder, entry, scratch);
  }
  if (request.sans.empty() && old) request.sans = old->sans();
  try {
    request.profile = entry.profile.empty() ? (old ? profile_of(*old) : pki::Profile::client)
                                            : pki::parse_profile(entry.profile);
  } catch (const Error&) {
    request.profile = old ? profile_of(*old) : pki::Profile::client;
  }
  std::vector<std::string> supersede;
  for (const IndexEntry* e : current) supersede.push_back(e->serial);
  const int days = options.days.value_or(validity_days(entry.not_before, entry.not_after));
  const bool same_key = old && request.public_key == old->public_key();
  RenewItem done = issue_and_record(folder, index, ca, std::move(request), std::move(item), supersede, std::nullopt,
                                    /*require_gain=*/false, days, options);
  if (same_key)
    done.warnings.push_back("the CSR carries the same key as the old certificate; a re-key normally uses a new key");
  return done;
}

// ---------------------------------------------------------------------------------------------------------

RevokeResult revoke(Index& index, std::string_view name_or_serial, pki::RevocationReason reason, TimePoint now) {
  RevokeResult result;
  const std::string reason_text(pki::to_string(reason));
  std::vector<std::string> serials;
  bool by_name = false;
  for (const auto& e : index.entries())
    if (e.name == name_or_serial) {
      by_name = true;
      if (e.status == CertStatus::revoked)
        result.already_revoked.push_back(e);
      else if (e.not_after <= now)
        result.expired.push_back(e);
      else
        serials.push_back(e.serial);
    }
  if (!by_name) {
    const IndexEntry* found = nullptr;
    try {
      found = index.find_serial(name_or_serial);
    } catch (const Error&) {  // not hex: neither a name nor a serial
    }
    if (found == nullptr)
      throw Error(Errc::not_found, fmt::format("'{}' is neither a certificate name nor a serial in the CA index; see "
                                               "`mqttpki list` for both",
                                               name_or_serial));
    if (found->status == CertStatus::revoked)
      result.already_revoked.push_back(*found);
    else
      serials.push_back(found->serial);
  }
  for (const auto& serial : serials) {
    index.revoke(serial, std::chrono::time_point_cast<std::chrono::seconds>(now), reason_text);
    result.revoked.push_back(*index.find_serial(serial));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------

fs::path crl_file(const CaLayout& layout) { return layout.dir / "crl.pem"; }

std::optional<CrlInfo> current_crl(const CaFolder& folder) {
  const fs::path path = crl_file(folder.layout());
  if (!path_exists(path)) return std::nullopt;
  try {
    return read_crl_info(read_file(path));
  } catch (const Error& e) {
    if (e.code() == Errc::bad_format)
      throw Error(Errc::bad_format,
                  fmt::format("{}: {}; write a fresh one with `mqttpki crl`", path.string(), e.what()));
    throw;
  }
}

CrlWritten write_crl(const CaFolder& folder, Index& index, const CaMaterial& ca, int days, TimePoint now) {
  if (days < 1 || days > 3650)
    throw Error(Errc::invalid_argument, fmt::format("--days {} is out of range; give 1 to 3650 (e.g. --days 30)", days));
  check_ca_usable(ca, now);
  pki::CrlOptions options;
  for (const auto& e : index.entries()) {
    if (e.status != CertStatus::revoked) continue;
    pki::RevokedEntry r;
    r.serial_hex = e.serial;
    r.revoked_at = e.revoked_at.value_or(now);
    try {
      r.reason = e.revocation_reason.empty() ? pki::RevocationReason::unspecified
                                             : pki::parse_revocation_reason(e.revocation_reason);
    } catch (const Error&) {
      r.reason = pki::RevocationReason::unspecified;
    }
    options.revoked.push_back(std::move(r));
  }
  // thisUpdate is backdated like certificates: a broker whose clock runs a little behind would otherwise see a
  // CRL that is "not yet valid" and refuse every client.
  options.this_update = now - pki::backdate;
  options.next_update = now + days * day;
  // Sign before taking a number, so a signing failure does not burn one; save the number before writing the
  // file, so a crash can never publish two CRLs with the same number.
  options.crl_number = index.crl_number() + 1;
  std::string pem = pki::make_crl(ca.cert, ca.key, options);
  const std::uint64_t number = index.next_crl_number();
  folder.commit(index);
  const fs::path path = crl_file(folder.layout());
  write_file_atomic(path, pem, mode_public, /*overwrite=*/true);
  return CrlWritten{path, std::move(pem), number, options.revoked.size(), options.next_update};
}

}  // namespace mqttpki::store
