#pragma once
// DIR/ca.db: the CA's records, in SQLite (WAL mode, synchronous=FULL). Every certificate the CA has issued is a
// row, never deleted, with its DER bytes, so a serial is never reused and issued/NAME.crt can always be
// rewritten from it. Status is what the CA decided (valid, revoked, superseded); "expired" is derived from
// not_after and the clock when listing. The schema (docs/ca-database.md, `sqlite3 DIR/ca.db .schema`):
//
//   certificates(id INTEGER PRIMARY KEY  -- issue order
//                serial TEXT UNIQUE      -- upper-case hex, as pki serial_hex
//                name, cn, subject, profile, not_before, not_after, issued_at (Unix seconds, UTC),
//                status, revoked_at, revocation_reason, superseded_by, file, sha256, public_key_sha256,
//                der BLOB)               -- NULL only for superseded entries migrated from index.json whose
//                                        -- bytes were already overwritten on disk
//   counters(name PRIMARY KEY, value)    -- 'crl_number': the last CRL number handed out (0: none yet)
//   files_to_write(serial PRIMARY KEY)   -- issued/NAME.crt files a committed issuance still has to write
//   renewal_requests(request_id PRIMARY KEY, name, received_at)  -- request ids the renewal agent has seen
//   PRAGMA user_version                  -- the schema version (schema_version below)
//
// Indexes on (name, status), (cn, status) and (status, not_after) keep the commands' lookups O(log n): a sign
// into a CA with 100,000 certificates reads a few rows, not all of them.
//
// Readers are never blocked by a writer (WAL); writers serialise on the folder lock (.lock) for the whole
// command and, inside it, on SQLite's own write lock (BEGIN IMMEDIATE), so the agent and concurrent CLI
// commands see each other's changes as soon as they commit.

#include <mqttpki/pki/util.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::store {

namespace sql {
class Transaction;
}

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
  std::string file;               // relative to DIR, e.g. "issued/sensor-1.crt" (absolute for adopted files)
  std::string sha256;             // certificate fingerprint, hex
  std::string public_key_sha256;  // SubjectPublicKeyInfo fingerprint, hex

  // valid and not yet expired at `now`
  [[nodiscard]] bool is_current(TimePoint now) const { return status == CertStatus::valid && now < not_after; }
};

// A certificate file that a committed issuance still has to write (or rewrite): DIR/file <- der.
struct FileToWrite {
  std::string serial;
  std::string file;
  std::string der;
};

class Index {
 public:
  static constexpr int schema_version = 2;  // 2: renewal_requests (the agent)

  // Opens DIR/ca.db, creating it with the schema when `create` (else a missing file is Errc::not_found).
  // A database from a newer mqttpki (user_version > schema_version) is Errc::bad_format.
  [[nodiscard]] static Index open(const std::filesystem::path& path, bool create);
  Index(Index&&) noexcept;
  Index& operator=(Index&&) noexcept;
  ~Index();

  [[nodiscard]] const std::filesystem::path& path() const noexcept;

  // ---- reads (each a consistent snapshot)
  [[nodiscard]] std::optional<IndexEntry> find_serial(std::string_view serial_hex) const;
  [[nodiscard]] bool has_serial(std::string_view serial_hex) const { return find_serial(serial_hex).has_value(); }
  // The valid (status) entries with this NAME or CN, newest first.
  [[nodiscard]] std::vector<IndexEntry> valid_by_name(std::string_view name) const;
  [[nodiscard]] std::vector<IndexEntry> valid_by_cn(std::string_view cn) const;
  [[nodiscard]] std::vector<IndexEntry> by_name(std::string_view name) const;  // any status, issue order
  [[nodiscard]] std::vector<IndexEntry> revoked() const;                        // for the CRL
  // Every entry in issue order, streamed (a fleet's index is never held in memory twice).
  void for_each(const std::function<void(const IndexEntry&)>& visit) const;
  [[nodiscard]] std::vector<IndexEntry> entries() const;
  // Each NAME with a valid entry, in the order of its first issuance: what `renew --all` renews. With
  // `expiring_before`, only the names whose newest valid certificate (the one renew_name() renews) expires
  // before it (the cron mode's due ones).
  [[nodiscard]] std::vector<std::string> valid_names(std::optional<TimePoint> expiring_before = std::nullopt) const;
  [[nodiscard]] std::size_t size() const;
  // The certificate's DER bytes; nullopt if unknown or not kept (see der above).
  [[nodiscard]] std::optional<std::string> certificate_der(std::string_view serial_hex) const;
  [[nodiscard]] std::uint64_t crl_number() const;

  // ---- writes: only inside a Transaction (the caller also holds the folder lock)
  class Transaction;
  [[nodiscard]] Transaction begin();
  // Adds an entry and its bytes; Errc::policy if the serial is already there (a serial is never reused).
  // queue_file: also list it in files_to_write (for issued/NAME.crt).
  void add(const IndexEntry& entry, std::string_view der, bool queue_file);
  // For renew: the old certificate is kept, marked superseded by the new serial.
  void mark_superseded(std::string_view serial_hex, std::string_view by_serial_hex);
  void revoke(std::string_view serial_hex, TimePoint when, std::string_view reason);
  // Records and returns the next CRL number.
  std::uint64_t next_crl_number();
  void set_crl_number(std::uint64_t number);  // migration only

  // Renewal over MQTT (the agent): records a request id inside a transaction; false when it was recorded
  // before (a replay). Ids older than the agent's max_age are forgotten (such requests are refused as stale).
  bool record_request(std::string_view request_id, std::string_view name, TimePoint received_at);
  void forget_requests(TimePoint before);
  // ---- certificate files: written after the commit (a kill in between leaves them listed here)
  [[nodiscard]] std::vector<FileToWrite> files_to_write() const;
  // Forgets written files. Not synchronous: losing this at a power cut only means checking them again.
  void files_written(const std::vector<FileToWrite>& files);

 private:
  struct Impl;
  explicit Index(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// BEGIN IMMEDIATE .. COMMIT; rolled back when destroyed before commit() (an exception on the way).
class Index::Transaction {
 public:
  Transaction(Transaction&&) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  void commit();

 private:
  friend class Index;
  explicit Transaction(Index& index);
  std::unique_ptr<sql::Transaction> tx_;  // the one BEGIN IMMEDIATE .. COMMIT/ROLLBACK (sqlite.hpp)
};

// Serials and times in the one form pki gives them: normalize_serial ("0x" and colons accepted) as
// pki::Certificate::serial_hex() prints, format_time "2026-11-27T16:44:06Z" (UTC, whole seconds).
using pki::format_time;
using pki::normalize_serial;
// format_time's text back to a time_point.
[[nodiscard]] std::optional<TimePoint> parse_time(std::string_view text);

}  // namespace mqttpki::store
