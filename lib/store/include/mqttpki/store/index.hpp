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
//
// DIR/index.journal: the changes made since index.json was last written, so that recording one certificate
// is one small appended line instead of a rewrite of the whole index. JSON Lines, one line per change set
// (one line = one all-or-nothing transaction), appended with one write and fsync'd:
//
//   {"v":1,"drop":["SERIAL",...],"put":[ENTRY,...],"crl_number":N}
//
// every key but "v" optional; ENTRY is a certificate entry exactly as in index.json. Applied in that order:
// "drop" removes the entries with these serials (only to take back an issuance whose certificate file could
// not be written), "put" replaces the entry with the same serial or appends a new one, "crl_number" sets it.
// The index is index.json with the journal's lines applied in order. Every record is absolute (whole entries
// keyed by serial, an absolute CRL number), so applying lines that index.json already contains changes
// nothing: a crash between writing index.json and removing the journal (compaction) is harmless. A last line
// without its newline, or one that is not JSON, is what a killed append leaves: it is ignored (its change
// never happened; the writer made it durable before acting on it) and cut off by the next append. A bad line
// elsewhere is Errc::bad_format naming the file and line.

#include <mqttpki/pki/util.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
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

// What load() found in the journal, so that the next append continues after its last whole line.
struct JournalState {
  std::size_t records = 0;  // whole lines applied
  std::uint64_t bytes = 0;  // length up to the end of the last whole line
  bool torn_tail = false;   // something after it (a killed append), ignored
};

class Index {
 public:
  static constexpr int format_version = 1;
  static constexpr int journal_version = 1;

  // index.json, then the journal next to it (index.journal) applied. A missing index.json is an empty index,
  // a missing journal an empty journal; a corrupt one is Errc::bad_format naming the file. Safe without the
  // folder lock: if index.json is replaced (a compaction) while the two are read, they are read again.
  [[nodiscard]] static Index load(const std::filesystem::path& path);
  [[nodiscard]] static Index load(const std::filesystem::path& path, const std::filesystem::path& journal_path);
  // DIR/index.journal for DIR/index.json.
  [[nodiscard]] static std::filesystem::path journal_path_for(const std::filesystem::path& index_path);
  // Writes index.json only: atomic replace (temp + fsync + rename), mode 0644. CaFolder::save_index() is the
  // compaction (this, then the journal removed).
  void save(const std::filesystem::path& path) const;

  // Applies journal text (see above); returns what was applied. Used by load(); public for tests and fuzzing.
  JournalState apply_journal(std::string_view text, const std::string& origin);

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
  // Takes back an issuance whose certificate never reached disk (CaFolder::record_issued when the file write
  // fails): removes the entry, and puts back the entries it had superseded as they were.
  void withdraw(std::string_view serial_hex, const std::vector<IndexEntry>& restore);

  [[nodiscard]] std::uint64_t crl_number() const noexcept { return crl_number_; }
  // Returns the next CRL number and records it.
  std::uint64_t next_crl_number() {
    crl_pending_ = true;
    return ++crl_number_;
  }

  // Changes not yet on disk (since load, or the last pending_record()/clear_pending()): the entries changed
  // by add / mark_superseded / revoke / withdraw, and the CRL number. pending_record() is them as one journal
  // line (with its newline), their current values: appended to the journal, it brings the disk to this index.
  [[nodiscard]] bool has_pending() const noexcept { return !pending_put_.empty() || !pending_drop_.empty() || crl_pending_; }
  [[nodiscard]] std::string pending_record() const;
  void clear_pending() noexcept;

  // The journal this index was loaded with plus what CaFolder appended since; reset by a compaction.
  [[nodiscard]] const JournalState& journal() const noexcept { return journal_; }
  void set_journal(JournalState state) noexcept { journal_ = state; }

 private:
  IndexEntry& entry_for(std::string_view serial_hex);
  void insert(IndexEntry entry);  // add() without the pending record
  void put(IndexEntry entry);     // replace by serial, or insert
  void drop(const std::string& serial);
  void reindex();
  void mark_pending(const std::string& serial);
  std::vector<const IndexEntry*> valid_in(const std::unordered_map<std::string, std::vector<std::size_t>>& map,
                                          std::string_view key) const;
  std::vector<IndexEntry> entries_;  // only grows (but for withdraw(), which re-indexes)
  // Lookups stay O(1) for fleets of tens of thousands (cron runs `renew --all` over all of them).
  std::unordered_map<std::string, std::size_t> by_serial_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_name_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_cn_;
  std::uint64_t crl_number_ = 0;
  std::vector<std::string> pending_put_;  // serials, in the order first changed (new entries in add order)
  std::unordered_set<std::string> pending_put_set_;
  std::vector<std::string> pending_drop_;
  bool crl_pending_ = false;
  JournalState journal_;
};

// Serials and times in the one form pki gives them: normalize_serial ("0x" and colons accepted) as
// pki::Certificate::serial_hex() prints, format_time "2026-11-27T16:44:06Z" (UTC, whole seconds).
using pki::format_time;
using pki::normalize_serial;
// format_time's text back to a time_point.
[[nodiscard]] std::optional<TimePoint> parse_time(std::string_view text);

}  // namespace mqttpki::store
