#include <mqttpki/pki/error.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/index.hpp>

#include <fmt/format.h>
#include "sqlite.hpp"

#include <unordered_map>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>

namespace mqttpki::store {



std::string_view to_string(CertStatus status) {
  switch (status) {
    case CertStatus::valid:
      return "valid";
    case CertStatus::revoked:
      return "revoked";
    case CertStatus::superseded:
      return "superseded";
  }
  return "valid";
}

CertStatus cert_status_from_string(std::string_view text) {
  if (text == "valid") return CertStatus::valid;
  if (text == "revoked") return CertStatus::revoked;
  if (text == "superseded") return CertStatus::superseded;
  throw Error(Errc::bad_format, fmt::format("unknown certificate status '{}'", text));
}

std::optional<TimePoint> parse_time(std::string_view text) {
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z')
    return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) -> int {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) return -1;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (tm.tm_year < -1899 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
      tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
    return std::nullopt;
  const std::time_t t = ::timegm(&tm);
  return std::chrono::system_clock::from_time_t(t);
}

// ---------------------------------------------------------------------------------------------------------
// The database.

namespace {

constexpr std::string_view schema_sql = R"(
CREATE TABLE IF NOT EXISTS certificates (
  id INTEGER PRIMARY KEY,
  serial TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  cn TEXT NOT NULL,
  subject TEXT NOT NULL,
  profile TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  issued_at INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('valid', 'revoked', 'superseded')),
  revoked_at INTEGER,
  revocation_reason TEXT NOT NULL DEFAULT '',
  superseded_by TEXT NOT NULL DEFAULT '',
  file TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  public_key_sha256 TEXT NOT NULL,
  der BLOB
);
CREATE INDEX IF NOT EXISTS certificates_by_name ON certificates (name, status);
CREATE INDEX IF NOT EXISTS certificates_by_cn ON certificates (cn, status);
CREATE INDEX IF NOT EXISTS certificates_by_expiry ON certificates (status, not_after);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('crl_number', 0);
CREATE TABLE IF NOT EXISTS files_to_write (serial TEXT PRIMARY KEY REFERENCES certificates (serial));
CREATE TABLE IF NOT EXISTS renewal_requests (
  request_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS renewal_requests_by_time ON renewal_requests (received_at);
)";

constexpr std::string_view entry_columns =
    "serial, name, cn, subject, profile, not_before, not_after, issued_at, status, revoked_at, revocation_reason, "
    "superseded_by, file, sha256, public_key_sha256";

std::int64_t seconds(TimePoint tp) {
  return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
}
TimePoint from_seconds(std::int64_t s) { return TimePoint(std::chrono::seconds(s)); }

// A row selected with entry_columns.
IndexEntry read_entry(const sql::Stmt& s) {
  IndexEntry e;
  e.serial = s.text(0);
  e.name = s.text(1);
  e.cn = s.text(2);
  e.subject = s.text(3);
  e.profile = s.text(4);
  e.not_before = from_seconds(s.integer(5));
  e.not_after = from_seconds(s.integer(6));
  e.issued_at = from_seconds(s.integer(7));
  e.status = cert_status_from_string(s.text(8));
  if (!s.is_null(9)) e.revoked_at = from_seconds(s.integer(9));
  e.revocation_reason = s.text(10);
  e.superseded_by = s.text(11);
  e.file = s.text(12);
  e.sha256 = s.text(13);
  e.public_key_sha256 = s.text(14);
  return e;
}

std::string select_entries(std::string_view where_and_order) {
  return fmt::format("SELECT {} FROM certificates {}", entry_columns, where_and_order);
}

}  // namespace

struct Index::Impl {
  sql::Db db;
  // Each statement prepared once per connection: parsing SQL was a seventh of a mass renewal's CPU.
  std::unordered_map<std::string, std::unique_ptr<sql::Stmt>> statements;

  explicit Impl(const std::filesystem::path& path, bool create) : db(path, create, std::chrono::seconds(30)) {}

  // The statement for `sql`, reset and unbound. Callers step it to the end or reset() it after their row, so no
  // statement keeps an old snapshot open between calls.
  sql::Stmt& prepared(const std::string& sql) {
    auto& slot = statements[sql];
    if (!slot) slot = std::make_unique<sql::Stmt>(db, sql);
    slot->reset();
    return *slot;
  }

  std::vector<IndexEntry> query(std::string_view where_and_order, std::string_view key = {}, bool bind = false) {
    sql::Stmt& s = prepared(select_entries(where_and_order));
    if (bind) s.bind(1, key);
    std::vector<IndexEntry> out;
    while (s.step()) out.push_back(read_entry(s));
    return out;
  }

  // The first column of the first row as an integer (0 when there is none).
  std::int64_t scalar(const std::string& sql) {
    sql::Stmt& s = prepared(sql);
    const std::int64_t value = s.step() ? s.integer(0) : 0;
    s.reset();
    return value;
  }
};

Index::Index(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Index::Index(Index&&) noexcept = default;
Index& Index::operator=(Index&&) noexcept = default;
Index::~Index() = default;

const std::filesystem::path& Index::path() const noexcept { return impl_->db.path(); }

Index Index::open(const std::filesystem::path& path, bool create) {
  if (!create && !path_exists(path))
    throw Error(Errc::not_found, fmt::format("{}: no such file; the CA folder has no records", path.string()));
  auto impl = std::make_unique<Impl>(path, create);
  auto& db = impl->db;
  // WAL: readers never wait for a writer. synchronous=FULL: a commit is on disk when COMMIT returns, so an
  // issuance the CA reported survives a power cut.
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=FULL");
  db.exec("PRAGMA foreign_keys=ON");
  sql::Stmt version(db, "PRAGMA user_version");
  version.step();
  const std::int64_t found = version.integer(0);
  if (found > schema_version)
    throw Error(Errc::bad_format, fmt::format("{}: made by a newer mqttpki (schema {} > {}); use that version",
                                              path.string(), found, schema_version));
  if (found < schema_version) {
    sql::Transaction tx(db);
    db.exec(schema_sql);
    db.exec(fmt::format("PRAGMA user_version={}", schema_version));
    tx.commit();
  }
  return Index(std::move(impl));
}

std::optional<IndexEntry> Index::find_serial(std::string_view serial_hex) const {
  auto rows = impl_->query("WHERE serial = ?1", normalize_serial(serial_hex), true);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

std::vector<IndexEntry> Index::valid_by_name(std::string_view name) const {
  return impl_->query("WHERE name = ?1 AND status = 'valid' ORDER BY id DESC", name, true);
}

std::vector<IndexEntry> Index::valid_by_cn(std::string_view cn) const {
  return impl_->query("WHERE cn = ?1 AND status = 'valid' ORDER BY id DESC", cn, true);
}

std::vector<IndexEntry> Index::by_name(std::string_view name) const {
  return impl_->query("WHERE name = ?1 ORDER BY id", name, true);
}

std::vector<IndexEntry> Index::revoked() const { return impl_->query("WHERE status = 'revoked' ORDER BY id"); }

void Index::for_each(const std::function<void(const IndexEntry&)>& visit) const {
  sql::Stmt s(impl_->db, select_entries("ORDER BY id"));
  while (s.step()) visit(read_entry(s));
}

std::vector<IndexEntry> Index::entries() const { return impl_->query("ORDER BY id"); }

std::vector<std::string> Index::valid_names(std::optional<TimePoint> expiring_before) const {
  // With a time, the newest valid entry of a NAME decides, as renew_name() does.
  const std::string sql = fmt::format(
      "SELECT name FROM certificates WHERE status = 'valid' GROUP BY name {} ORDER BY MIN(id)",
      expiring_before ? "HAVING MAX(id) IN (SELECT id FROM certificates WHERE status = 'valid' AND not_after < ?1)"
                      : "");
  sql::Stmt& s = impl_->prepared(sql);
  if (expiring_before) s.bind(1, seconds(*expiring_before));
  std::vector<std::string> names;
  while (s.step()) names.push_back(s.text(0));
  return names;
}

std::size_t Index::size() const {
  return static_cast<std::size_t>(impl_->scalar("SELECT COUNT(*) FROM certificates"));
}

std::optional<std::string> Index::certificate_der(std::string_view serial_hex) const {
  sql::Stmt& s = impl_->prepared("SELECT der FROM certificates WHERE serial = ?1");
  s.bind(1, normalize_serial(serial_hex));
  std::optional<std::string> der;
  if (s.step() && !s.is_null(0)) der = s.blob(0);
  s.reset();
  return der;
}

std::uint64_t Index::crl_number() const {
  return static_cast<std::uint64_t>(impl_->scalar("SELECT value FROM counters WHERE name = 'crl_number'"));
}

Index::Transaction Index::begin() { return Transaction(*this); }

Index::Transaction::Transaction(Index& index) : tx_(std::make_unique<sql::Transaction>(index.impl_->db)) {}
Index::Transaction::Transaction(Transaction&&) noexcept = default;
Index::Transaction::~Transaction() = default;
void Index::Transaction::commit() { tx_->commit(); }

void Index::add(const IndexEntry& e, std::string_view der, bool queue_file) {
  if (has_serial(e.serial))
    throw Error(Errc::policy, fmt::format("serial {} is already in {}; a serial is never reused", e.serial,
                                          path().string()));
  sql::Stmt& s = impl_->prepared(fmt::format("INSERT INTO certificates ({}, der) VALUES "
                                             "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                                             entry_columns));
  s.bind(1, normalize_serial(e.serial)).bind(2, e.name).bind(3, e.cn).bind(4, e.subject).bind(5, e.profile);
  s.bind(6, seconds(e.not_before)).bind(7, seconds(e.not_after)).bind(8, seconds(e.issued_at));
  s.bind(9, to_string(e.status));
  if (e.revoked_at) s.bind(10, seconds(*e.revoked_at)); else s.bind_null(10);
  s.bind(11, e.revocation_reason).bind(12, e.superseded_by).bind(13, e.file).bind(14, e.sha256);
  s.bind(15, e.public_key_sha256);
  if (der.empty()) s.bind_null(16); else s.bind_blob(16, der);
  s.run();
  if (queue_file) impl_->prepared("INSERT OR IGNORE INTO files_to_write (serial) VALUES (?1)").bind(1, e.serial).run();
}

namespace {
void require_changed(const sql::Db& db, std::string_view serial) {
  if (sqlite3_changes(db.get()) == 0)
    throw Error(Errc::not_found, fmt::format("serial {} is not in {}", serial, db.path().string()));
}
}  // namespace

void Index::mark_superseded(std::string_view serial_hex, std::string_view by_serial_hex) {
  const std::string serial = normalize_serial(serial_hex);
  impl_->prepared("UPDATE certificates SET status = 'superseded', superseded_by = ?2 WHERE serial = ?1")
      .bind(1, serial).bind(2, normalize_serial(by_serial_hex)).run();
  require_changed(impl_->db, serial);
}

bool Index::record_request(std::string_view request_id, std::string_view name, TimePoint received_at) {
  impl_->prepared("INSERT OR IGNORE INTO renewal_requests (request_id, name, received_at) VALUES (?1, ?2, ?3)")
      .bind(1, request_id).bind(2, name).bind(3, seconds(received_at)).run();
  return sqlite3_changes(impl_->db.get()) == 1;
}

void Index::forget_requests(TimePoint before) {
  impl_->prepared("DELETE FROM renewal_requests WHERE received_at < ?1").bind(1, seconds(before)).run();
}

void Index::revoke(std::string_view serial_hex, TimePoint when, std::string_view reason) {
  const std::string serial = normalize_serial(serial_hex);
  impl_->prepared("UPDATE certificates SET status = 'revoked', revoked_at = ?2, revocation_reason = ?3 WHERE serial = ?1")
      .bind(1, serial).bind(2, seconds(when)).bind(3, reason).run();
  require_changed(impl_->db, serial);
}

std::uint64_t Index::next_crl_number() {
  impl_->prepared("UPDATE counters SET value = value + 1 WHERE name = 'crl_number'").run();
  return crl_number();
}

void Index::set_crl_number(std::uint64_t number) {
  impl_->prepared("UPDATE counters SET value = ?1 WHERE name = 'crl_number'")
      .bind(1, static_cast<std::int64_t>(number)).run();
}

std::vector<FileToWrite> Index::files_to_write() const {
  sql::Stmt s(impl_->db,
              // CROSS JOIN keeps the (normally empty) list outside: a plain JOIN in id order scanned every certificate.
              "SELECT c.serial, c.file, c.der FROM files_to_write f CROSS JOIN certificates c ON c.serial = f.serial "
              "ORDER BY f.rowid");
  std::vector<FileToWrite> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.blob(2)});
  return out;
}

void Index::files_written(const std::vector<FileToWrite>& files) {
  if (files.empty()) return;
  auto& db = impl_->db;
  // The files are already synced; this only saves the next command a comparison, so it need not wait for
  // the disk.
  db.exec("PRAGMA synchronous=NORMAL");
  try {
    sql::Transaction tx(db);
    sql::Stmt s(db, "DELETE FROM files_to_write WHERE serial = ?1");
    for (const auto& f : files) {
      s.bind(1, f.serial).run();
      s.reset();
    }
    tx.commit();
  } catch (...) {
    db.exec("PRAGMA synchronous=FULL");
    throw;
  }
  db.exec("PRAGMA synchronous=FULL");
}

}  // namespace mqttpki::store
