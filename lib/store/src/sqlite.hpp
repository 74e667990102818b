#pragma once
// A thin owner for SQLite handles (internal to store): a connection and prepared statements with RAII, every
// call checked, failures as mqttpki::Error naming the database file. SQLite does the work; this only makes
// its C API safe to hold in C++.

#include <mqttpki/pki/error.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mqttpki::store::sql {

struct DbDeleter {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};

class Db;

// One prepared statement; bind() with 1-based indexes, step() until it returns false, then reset() to reuse.
class Stmt {
 public:
  Stmt(const Db& db, std::string_view sql);
  Stmt& bind(int i, std::string_view text);
  Stmt& bind(int i, std::int64_t value);
  Stmt& bind_blob(int i, std::string_view bytes);
  Stmt& bind_null(int i);
  // True when a row is ready; false when done. SQLITE_BUSY past the busy timeout is Errc::locked.
  bool step();
  void run() { while (step()) {} }  // a statement whose rows are not needed
  void reset();
  [[nodiscard]] std::string text(int col) const;
  [[nodiscard]] std::int64_t integer(int col) const;
  [[nodiscard]] bool is_null(int col) const;
  [[nodiscard]] std::string blob(int col) const;

 private:
  const Db* db_;
  std::unique_ptr<sqlite3_stmt, StmtDeleter> stmt_;
};

class Db {
 public:
  // Opens (creating when `create`) the database file; waits up to busy_timeout for other connections' locks.
  Db(const std::filesystem::path& path, bool create, std::chrono::milliseconds busy_timeout);
  void exec(std::string_view sql);  // statements without parameters or rows
  [[nodiscard]] sqlite3* get() const noexcept { return db_.get(); }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  // The error for a failed call: Errc::locked for SQLITE_BUSY/LOCKED, Errc::io for disk full, I/O and
  // permission errors, Errc::bad_format for a damaged database; the message names the file.
  [[noreturn]] void fail(int rc, std::string_view what) const;

 private:
  std::filesystem::path path_;
  std::unique_ptr<sqlite3, DbDeleter> db_;
};

// BEGIN IMMEDIATE .. COMMIT: a write transaction; rolled back by the destructor unless commit() ran.
class Transaction {
 public:
  explicit Transaction(Db& db);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  void commit();

 private:
  Db* db_;
};

}  // namespace mqttpki::store::sql
