#pragma once
// DIR/index.json: every certificate the CA has issued, never deleted, so a serial is never reused.
// Status is what the CA decided (valid, revoked, superseded); "expired" is derived from not_after and the
// clock when listing. crl_number is the last CRL number handed out (0: none yet).
//
//   { "version": 1, "crl_number": 0,
//     "certificates": [ { "serial": "5F0C...", "name": "server", "cn": "server", "subject": "CN=server,O=Home",
//                         "profile": "server", "not_before": "2026-11-27T16:00:00Z", "not_after": "...",
//                         "status": "valid", "file": "issued/server.crt", "sha256": "ab:cd:...",
//                         "public_key_sha256": "...", "issued_at": "...",
//                         "revoked_at": "...", "revocation_reason": "keyCompromise", "superseded_by": "..." } ] }

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mqttpki::store {

using TimePoint = std::chrono::system_clock::time_point;

enum class CertStatus { valid, revoked, superseded };
[[nodiscard]] std::string_view to_string(CertStatus status);
[[nodiscard]] CertStatus cert_status_from_string(std::string_view text);  // throws Errc::bad_format

struct IndexEntry {
  std::string serial;  // upper-case hex, whole bytes, no separators (as pki serial_hex)
  std::string name;    // file name stem: DIR/issued/NAME.crt
  std::string cn;
  std::string subject;  // one line, e.g. "CN=sensor-1,O=Home"
  std::string profile;  // server | client | ...
  TimePoint not_before{};
  TimePoint not_after{};
  TimePoint issued_at{};
  CertStatus status = CertStatus::valid;
  std::optional<TimePoint> revoked_at;
  std::string revocation_reason;  // RFC 5280 name, e.g. "keyCompromise"; empty unless revoked
  std::string superseded_by;      // serial of the renewal; empty unless superseded
  std::string file;               // relative to DIR, e.g. "issued/sensor-1.crt"
  std::string sha256;             // certificate fingerprint, hex
  std::string public_key_sha256;  // SubjectPublicKeyInfo fingerprint, hex

  // valid and not yet expired at `now`
  [[nodiscard]] bool is_current(TimePoint now) const { return status == CertStatus::valid && now < not_after; }
};

class Index {
 public:
  static constexpr int format_version = 1;

  // A missing file is an empty index; a corrupt one is Errc::bad_format naming the file.
  [[nodiscard]] static Index load(const std::filesystem::path& path);
  // Atomic replace (temp + fsync + rename), mode 0644.
  void save(const std::filesystem::path& path) const;

  [[nodiscard]] static Index parse(std::string_view json_text, const std::string& origin);
  [[nodiscard]] std::string to_json() const;

  [[nodiscard]] const std::vector<IndexEntry>& entries() const noexcept { return entries_; }
  [[nodiscard]] bool has_serial(std::string_view serial_hex) const;
  [[nodiscard]] const IndexEntry* find_serial(std::string_view serial_hex) const;
  // The valid (status) entries with this NAME or CN, newest first.
  [[nodiscard]] std::vector<const IndexEntry*> valid_by_name(std::string_view name) const;
  [[nodiscard]] std::vector<const IndexEntry*> valid_by_cn(std::string_view cn) const;

  // Adds an entry; Errc::policy if the serial is already in the index (a serial is never reused).
  void add(IndexEntry entry);
  // For renew: the old certificate is kept, marked superseded by the new serial.
  void mark_superseded(std::string_view serial_hex, std::string_view by_serial_hex);
  // For revoke.
  void revoke(std::string_view serial_hex, TimePoint when, std::string reason);

  [[nodiscard]] std::uint64_t crl_number() const noexcept { return crl_number_; }
  // Returns the next CRL number and records it.
  std::uint64_t next_crl_number() { return ++crl_number_; }

 private:
  IndexEntry& entry_for(std::string_view serial_hex);
  std::vector<const IndexEntry*> valid_in(const std::unordered_map<std::string, std::vector<std::size_t>>& map,
                                          std::string_view key) const;
  std::vector<IndexEntry> entries_;  // only ever grows: positions below stay valid
  // Lookups stay O(1) for fleets of tens of thousands (cron runs `renew --all` over all of them).
  std::unordered_map<std::string, std::size_t> by_serial_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_name_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_cn_;
  std::uint64_t crl_number_ = 0;
};

// Normalised serial text as pki::Certificate::serial_hex() prints it: upper-case hex, whole bytes, no colons,
// no leading zero bytes ("0x" prefix and colons accepted). Errc::invalid_argument if not hex.
[[nodiscard]] std::string normalize_serial(std::string_view text);

// "2026-11-27T16:44:06Z" <-> time_point (UTC, whole seconds).
[[nodiscard]] std::string format_time(TimePoint tp);
[[nodiscard]] std::optional<TimePoint> parse_time(std::string_view text);

}  // namespace mqttpki::store
