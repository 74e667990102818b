#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/index.hpp>

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <sqlite3.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using mqttpki::Errc;
using mqttpki::Error;
namespace store = mqttpki::store;
using namespace std::chrono_literals;

namespace {

using mqttpki::test::TempDir;

store::TimePoint at(const char* text) { return *store::parse_time(text); }

store::IndexEntry entry(std::string serial, std::string name) {
  store::IndexEntry e;
  e.serial = std::move(serial);
  e.name = name;
  e.cn = name;
  e.subject = "CN=" + name + ",O=Home";
  e.profile = "client";
  e.not_before = at("2026-01-01T00:00:00Z");
  e.not_after = at("2027-01-01T00:00:00Z");
  e.issued_at = at("2026-01-01T00:00:05Z");
  e.file = "issued/" + name + ".crt";
  e.sha256 = "AB:CD";
  e.public_key_sha256 = "EF:01";
  return e;
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode) & 07777U;
}

}  // namespace

TEST_CASE("time text round trips in UTC") {
  CHECK(store::format_time(at("2026-11-27T16:44:06Z")) == "2026-11-27T16:44:06Z");
  CHECK(store::format_time(std::chrono::system_clock::from_time_t(0)) == "1970-01-01T00:00:00Z");
  CHECK_FALSE(store::parse_time("2026-11-27 16:44:06").has_value());
  CHECK_FALSE(store::parse_time("2026-13-27T16:44:06Z").has_value());
}

TEST_CASE("serials are normalised like pki serial_hex") {
  CHECK(store::normalize_serial("0a:1b") == "0A1B");
  CHECK(store::normalize_serial("0x00A1B") == "0A1B");
  CHECK(store::normalize_serial("7f") == "7F");
  CHECK(store::normalize_serial("000001") == "01");
  CHECK_THROWS_AS(store::normalize_serial("xyz"), Error);
}

TEST_CASE("the database keeps every field, the bytes and the order of issue") {
  TempDir t;
  auto index = store::Index::open(t.path / "ca.db", true);
  auto e = entry("0A0B", "server");
  e.profile = "server";
  e.status = store::CertStatus::revoked;
  e.revoked_at = at("2026-06-01T12:00:00Z");
  e.revocation_reason = "keyCompromise";
  index.add(e, "DER-BYTES", false);
  index.add(entry("01", "pi1"), "", false);
  const auto back = index.find_serial("0a:0b");
  REQUIRE(back.has_value());
  CHECK(back->name == "server");
  CHECK(back->cn == "server");
  CHECK(back->subject == "CN=server,O=Home");
  CHECK(back->profile == "server");
  CHECK(back->not_before == e.not_before);
  CHECK(back->not_after == e.not_after);
  CHECK(back->issued_at == e.issued_at);
  CHECK(back->status == store::CertStatus::revoked);
  CHECK(back->revoked_at == e.revoked_at);
  CHECK(back->revocation_reason == "keyCompromise");
  CHECK(back->file == "issued/server.crt");
  CHECK(back->sha256 == "AB:CD");
  CHECK(back->public_key_sha256 == "EF:01");
  CHECK(index.certificate_der("0A0B") == std::optional<std::string>("DER-BYTES"));
  CHECK_FALSE(index.certificate_der("01").has_value());
  const auto all = index.entries();
  REQUIRE(all.size() == 2);
  CHECK(all[0].serial == "0A0B");
  CHECK(all[1].serial == "01");
  CHECK(index.revoked().size() == 1);
}

TEST_CASE("a serial is never added twice, and marking an unknown serial is refused") {
  TempDir t;
  auto index = store::Index::open(t.path / "ca.db", true);
  index.add(entry("01", "a"), "", false);
  try {
    index.add(entry("0001", "b"), "", false);
    FAIL("expected policy");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::policy);
  }
  CHECK(index.size() == 1);
  CHECK_THROWS_AS(index.mark_superseded("99", "01"), Error);
  CHECK_THROWS_AS(index.revoke("99", at("2026-01-01T00:00:00Z"), "unspecified"), Error);
}

TEST_CASE("lookups: valid by NAME and CN newest first, names due before a time, any status by NAME") {
  TempDir t;
  auto index = store::Index::open(t.path / "ca.db", true);
  index.add(entry("01", "a"), "", false);
  auto newer = entry("02", "a");
  newer.not_after = at("2026-03-01T00:00:00Z");
  index.add(newer, "", false);
  index.add(entry("03", "b"), "", false);
  index.add(entry("04", "c"), "", false);
  index.mark_superseded("01", "02");
  index.revoke("04", at("2026-02-01T00:00:00Z"), "keyCompromise");
  const auto a = index.valid_by_name("a");
  REQUIRE(a.size() == 1);
  CHECK(a.front().serial == "02");
  CHECK(index.find_serial("01")->superseded_by == "02");
  CHECK(index.by_name("a").size() == 2);
  CHECK(index.valid_by_cn("b").size() == 1);
  CHECK(index.valid_names() == std::vector<std::string>{"a", "b"});
  CHECK(index.valid_names(at("2026-06-01T00:00:00Z")) == std::vector<std::string>{"a"});
  // Two valid entries of one NAME (a folder migrated from 0.1): the newest decides, as renew_name() does.
  auto d_old = entry("05", "d");
  d_old.not_after = at("2026-03-01T00:00:00Z");
  index.add(d_old, "", false);
  index.add(entry("06", "d"), "", false);
  CHECK(index.valid_names() == std::vector<std::string>{"a", "b", "d"});
  CHECK(index.valid_names(at("2026-06-01T00:00:00Z")) == std::vector<std::string>{"a"});
  std::size_t seen = 0;
  index.for_each([&](const store::IndexEntry&) { ++seen; });
  CHECK(seen == 6);
}

TEST_CASE("a transaction not committed changes nothing, and CRL numbers only rise") {
  TempDir t;
  auto index = store::Index::open(t.path / "ca.db", true);
  CHECK(index.crl_number() == 0);
  {
    auto tx = index.begin();
    index.add(entry("01", "a"), "", true);
    CHECK(index.next_crl_number() == 1);
  }  // an exception on the way: rolled back
  CHECK(index.size() == 0);
  CHECK(index.crl_number() == 0);
  CHECK(index.files_to_write().empty());
  {
    auto tx = index.begin();
    index.add(entry("01", "a"), "BYTES", true);
    CHECK(index.next_crl_number() == 1);
    tx.commit();
  }
  CHECK(index.crl_number() == 1);
  const auto files = index.files_to_write();
  REQUIRE(files.size() == 1);
  CHECK(files.front().file == "issued/a.crt");
  CHECK(files.front().der == "BYTES");
  index.files_written(files);
  CHECK(index.files_to_write().empty());
}

TEST_CASE("a reader is not blocked by a writer's open transaction and sees the commit at once") {
  TempDir t;
  auto writer = store::Index::open(t.path / "ca.db", true);
  auto reader = store::Index::open(t.path / "ca.db", false);
  auto tx = writer.begin();
  writer.add(entry("01", "a"), "", false);
  const auto started = std::chrono::steady_clock::now();
  CHECK(reader.size() == 0);  // the snapshot before the commit, without waiting for the writer
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  tx.commit();
  CHECK(reader.size() == 1);
}

TEST_CASE("a database from a newer mqttpki is refused, and a missing one is not_found unless created") {
  TempDir t;
  CHECK_THROWS_AS(store::Index::open(t.path / "none.db", false), Error);
  { (void)store::Index::open(t.path / "ca.db", true); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((t.path / "ca.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  try {
    (void)store::Index::open(t.path / "ca.db", false);
    FAIL("expected bad_format");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::bad_format);
    CHECK(std::string(e.what()).find("newer mqttpki") != std::string::npos);
  }
}

TEST_CASE("concurrent writers under the folder lock never lose an entry or reuse a serial") {
  TempDir t;
  const fs::path dir = t.path / "pki";
  (void)store::CaFolder::create(dir, "C", "K", false, at("2026-01-01T00:00:00Z"));
  constexpr int writers = 6;
  constexpr int per_writer = 5;
  std::vector<pid_t> pids;
  for (int w = 0; w < writers; ++w) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int code = 0;
      try {
        auto folder = store::CaFolder::open(dir);
        for (int i = 0; i < per_writer; ++i) {
          const auto held = folder.lock(10s);
          auto index = folder.open_index(held);
          auto tx = index.begin();
          // The next serial is derived from what the index holds: only correct if nobody else writes meanwhile.
          const std::string serial = fmt::format("{:02X}", index.size() + 1);
          index.add(entry(serial, fmt::format("w{}-{}", w, i)), "", false);
          tx.commit();
        }
      } catch (...) {
        code = 1;
      }
      ::_exit(code);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  const auto all = store::CaFolder::open(dir).open_index().entries();
  CHECK(all.size() == static_cast<std::size_t>(writers * per_writer));
  std::set<std::string> serials;
  for (const auto& e : all) serials.insert(e.serial);
  CHECK(serials.size() == all.size());
}

TEST_CASE("a folder made by mqttpki 0.1 (index.json and a journal with a torn tail) is migrated on first use") {
  TempDir t;
  const fs::path dir = t.path / "pki";
  fs::copy(fs::path(MQTTPKI_TEST_DATA) / "release-0.1" / "pki", dir, fs::copy_options::recursive);
  auto folder = store::CaFolder::open(dir);
  const auto index = folder.open_index();  // a reader: takes the lock for the migration
  const auto all = index.entries();
  REQUIRE(all.size() == 4);
  CHECK(all[0].name == "server");
  CHECK(all[1].status == store::CertStatus::superseded);
  CHECK(all[2].status == store::CertStatus::revoked);
  CHECK(all[2].revocation_reason == "keyCompromise");
  CHECK(all[3].status == store::CertStatus::valid);
  CHECK(all[1].superseded_by == all[3].serial);
  CHECK(index.crl_number() == 1);
  // Bytes from the files that still hold them; the superseded certificate's file was overwritten by 0.1.
  CHECK(index.certificate_der(all[0].serial).has_value());
  CHECK_FALSE(index.certificate_der(all[1].serial).has_value());
  CHECK(index.certificate_der(all[3].serial).has_value());
  CHECK_FALSE(fs::exists(dir / "index.json"));
  CHECK_FALSE(fs::exists(dir / "index.journal"));
  bool backed_up = false;
  for (const auto& b : fs::directory_iterator(dir / "backup"))
    backed_up = backed_up || (fs::exists(b.path() / "index.json") && fs::exists(b.path() / "index.journal"));
  CHECK(backed_up);
  // Opening again changes nothing.
  CHECK(folder.open_index().size() == 4);
}

TEST_CASE("a damaged index.json is refused naming it, and nothing is migrated") {
  TempDir t;
  const fs::path dir = t.path / "pki";
  fs::copy(fs::path(MQTTPKI_TEST_DATA) / "release-0.1" / "pki", dir, fs::copy_options::recursive);
  {
    std::ofstream f(dir / "index.json", std::ios::trunc);
    f << "{ not json";
  }
  auto folder = store::CaFolder::open(dir);
  try {
    (void)folder.open_index();
    FAIL("expected bad_format");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::bad_format);
    CHECK(std::string(e.what()).find("index.json") != std::string::npos);
  }
  CHECK_FALSE(fs::exists(dir / "ca.db"));
}

TEST_CASE("names that cannot be file names are refused") {
  CHECK(store::is_valid_name("sensor-1"));
  CHECK(store::is_valid_name("pi@home.lan"));
  CHECK_FALSE(store::is_valid_name("../etc/passwd"));
  CHECK_FALSE(store::is_valid_name(".hidden"));
  CHECK_FALSE(store::is_valid_name("a b"));
  CHECK_FALSE(store::is_valid_name(""));
  CHECK_FALSE(store::is_valid_name(std::string(65, 'a')));
  CHECK_THROWS_AS(store::validate_name("x/y"), Error);
}

TEST_CASE("CA folder: create refuses an existing CA unless replace, which keeps a backup") {
  TempDir t;
  const fs::path dir = t.path / "pki";
  CHECK_FALSE(store::CaFolder::has_ca(dir));
  try {
    (void)store::CaFolder::open(dir);
    FAIL("expected not_found");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::not_found);
    CHECK(std::string(e.what()) ==
          "no CA in " + dir.string() + "; create one with `mqttpki init-ca --cn NAME --dir " + dir.string() + "`");
  }
  const auto now = at("2026-11-27T16:44:06Z");
  auto made = store::CaFolder::create(dir, "CERT1", "KEY1", false, now);
  CHECK_FALSE(made.backup.has_value());
  CHECK(mode_of(dir / "private") == 0700U);
  CHECK(mode_of(dir / "private" / "ca.key") == 0600U);
  CHECK(store::read_file(dir / "ca.crt") == "CERT1");
  auto folder = store::CaFolder::open(dir);
  CHECK(folder.open_index().size() == 0);

  try {
    (void)store::CaFolder::create(dir, "CERT2", "KEY2", false, now);
    FAIL("expected already_exists");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::already_exists);
  }
  CHECK(store::read_file(dir / "ca.crt") == "CERT1");
  CHECK(store::read_file(dir / "private" / "ca.key") == "KEY1");

  auto replaced = store::CaFolder::create(dir, "CERT2", "KEY2", true, now);
  REQUIRE(replaced.backup.has_value());
  CHECK(*replaced.backup == dir / "backup" / "20261127T164406Z");
  CHECK(store::read_file(*replaced.backup / "ca.crt") == "CERT1");
  CHECK(store::read_file(*replaced.backup / "private" / "ca.key") == "KEY1");
  CHECK(fs::exists(*replaced.backup / "ca.db"));
  CHECK(mode_of(*replaced.backup) == 0700U);
  CHECK(store::read_file(dir / "ca.crt") == "CERT2");
  auto again = store::CaFolder::create(dir, "CERT3", "KEY3", true, now);
  CHECK(*again.backup == dir / "backup" / "20261127T164406Z-1");
}

