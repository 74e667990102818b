#include "sqlite.hpp"

#include <fmt/format.h>

#include <chrono>

namespace mqttpki::store::sql {

Db::Db(const std::filesystem::path& path, bool create, std::chrono::milliseconds busy_timeout) : path_(path) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOFOLLOW;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) fail(rc, "cannot open it");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(busy_timeout.count()));
}

void Db::fail(int rc, std::string_view what) const {
  const std::string detail = db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    throw Error(Errc::locked, fmt::format("{}: {} ({}): another mqttpki process holds it; retry when it is done",
                                          path_.string(), what, detail));
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
    throw Error(Errc::bad_format, fmt::format("{}: {} ({}); the CA's records are damaged: restore the folder from "
                                              "a backup (`sqlite3 {} .recover` may save what is left)",
                                              path_.string(), what, detail, path_.string()));
  if (primary == SQLITE_CONSTRAINT)
    throw Error(Errc::policy, fmt::format("{}: {} ({})", path_.string(), what, detail));
  throw Error(Errc::io, fmt::format("{}: {} ({}); check free disk space and the CA folder's permissions",
                                    path_.string(), what, detail));
}

void Db::exec(std::string_view sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_.get(), std::string(sql).c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);  // sqlite3_errmsg() still holds the text fail() reports
  if (rc != SQLITE_OK) fail(rc, "cannot update the CA's records");
}

Stmt::Stmt(const Db& db, std::string_view sql) : db_(&db) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  stmt_.reset(raw);
  if (rc != SQLITE_OK) db.fail(rc, "cannot read the CA's records");
}

Stmt& Stmt::bind(int i, std::string_view text) {
  const int rc = sqlite3_bind_text(stmt_.get(), i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->fail(rc, "cannot bind a value");
  return *this;
}

Stmt& Stmt::bind(int i, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_.get(), i, value);
  if (rc != SQLITE_OK) db_->fail(rc, "cannot bind a value");
  return *this;
}

Stmt& Stmt::bind_blob(int i, std::string_view bytes) {
  const int rc = sqlite3_bind_blob(stmt_.get(), i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->fail(rc, "cannot bind a value");
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  const int rc = sqlite3_bind_null(stmt_.get(), i);
  if (rc != SQLITE_OK) db_->fail(rc, "cannot bind a value");
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_.get());
  db_->fail(rc, "cannot access the CA's records");
}

void Stmt::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::string Stmt::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_.get(), col);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p),
                                                    static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)));
}

std::int64_t Stmt::integer(int col) const { return sqlite3_column_int64(stmt_.get(), col); }

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }

std::string Stmt::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_.get(), col);
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
}

Transaction::Transaction(Db& db) : db_(&db) { db.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (db_ != nullptr) sqlite3_exec(db_->get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_->exec("COMMIT");
  db_ = nullptr;
}

}  // namespace mqttpki::store::sql
