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

TEST_CASE("the index round trips through JSON with every field") {
  TempDir t;
  store::Index index;
  index.add(entry("0A1B", "sensor-1"));
  index.add(entry("7F00", "server"));
  index.revoke("0a:1b", at("2026-06-01T10:00:00Z"), "keyCompromise");
  index.add(entry("11", "server"));
  index.mark_superseded("7f00", "11");
  CHECK(index.next_crl_number() == 1);
  index.save(t.path / "index.json");
  CHECK(mode_of(t.path / "index.json") == 0644U);

  auto back = store::Index::load(t.path / "index.json");
  REQUIRE(back.entries().size() == 3);
  CHECK(back.crl_number() == 1);
  const auto* revoked = back.find_serial("0A1B");
  REQUIRE(revoked != nullptr);
  CHECK(revoked->status == store::CertStatus::revoked);
  CHECK(revoked->revocation_reason == "keyCompromise");
  CHECK(store::format_time(*revoked->revoked_at) == "2026-06-01T10:00:00Z");
  CHECK(revoked->subject == "CN=sensor-1,O=Home");
  CHECK(revoked->public_key_sha256 == "EF:01");
  CHECK(store::format_time(revoked->not_after) == "2027-01-01T00:00:00Z");
  const auto* old = back.find_serial("7F00");
  REQUIRE(old != nullptr);
  CHECK(old->status == store::CertStatus::superseded);
  CHECK(old->superseded_by == "11");
  auto current = back.valid_by_name("server");
  REQUIRE(current.size() == 1);
  CHECK(current[0]->serial == "11");
  CHECK(back.valid_by_cn("sensor-1").empty());
  CHECK(back.to_json() == index.to_json());
}

TEST_CASE("a missing index is empty; a corrupt one is refused naming the file") {
  TempDir t;
  CHECK(store::Index::load(t.path / "index.json").entries().empty());
  store::write_file_atomic(t.path / "index.json", "{\"certificates\": [ {\"serial\": ", 0644, false);
  try {
    (void)store::Index::load(t.path / "index.json");
    FAIL("expected bad_format");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::bad_format);
    CHECK(std::string(e.what()).find((t.path / "index.json").string() + ": ") == 0);
  }
  store::write_file_atomic(t.path / "index.json", R"({"certificates":[{"serial":"01","name":"a"}]})", 0644, true);
  CHECK_THROWS_AS(store::Index::load(t.path / "index.json"), Error);
}

TEST_CASE("a serial is never added twice") {
  store::Index index;
  index.add(entry("01AB", "a"));
  try {
    index.add(entry("1ab", "b"));
    FAIL("expected policy");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::policy);
  }
  CHECK(index.entries().size() == 1);
  CHECK_THROWS_AS(index.revoke("99", at("2026-01-01T00:00:00Z"), "x"), Error);
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
  CHECK(folder.load_index().entries().empty());

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
  CHECK(mode_of(*replaced.backup) == 0700U);
  CHECK(store::read_file(dir / "ca.crt") == "CERT2");
  auto again = store::CaFolder::create(dir, "CERT3", "KEY3", true, now);
  CHECK(*again.backup == dir / "backup" / "20261127T164406Z-1");
}

TEST_CASE("CA folder: record_issued writes the index then the certificate") {
  TempDir t;
  const fs::path dir = t.path / "pki";
  auto folder = std::move(store::CaFolder::create(dir, "C", "K", false, at("2026-01-01T00:00:00Z")).folder);
  auto lock = folder.lock(1s);
  auto index = folder.load_index();
  folder.record_issued(index, entry("0101", "server"), "PEM1");
  folder.record_issued(index, entry("0202", "server"), "PEM2", {"0101"});
  auto back = folder.load_index();
  REQUIRE(back.entries().size() == 2);
  CHECK(back.find_serial("0101")->status == store::CertStatus::superseded);
  CHECK(back.find_serial("0202")->file == "issued/server.crt");
  CHECK(store::read_file(dir / "issued" / "server.crt") == "PEM2");
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
          auto lock = folder.lock(10s);
          auto index = folder.load_index();
          // The next serial is derived from what the index holds: only correct if nobody else writes meanwhile.
          const std::string serial = fmt::format("{:02X}", index.entries().size() + 1);
          folder.record_issued(index, entry(serial, fmt::format("w{}-{}", w, i)), "PEM");
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
  auto index = store::CaFolder::open(dir).load_index();
  CHECK(index.entries().size() == static_cast<std::size_t>(writers * per_writer));
  std::set<std::string> serials;
  for (const auto& e : index.entries()) serials.insert(e.serial);
  CHECK(serials.size() == index.entries().size());
}

// ---------------------------------------------------------------------------------------------------------
// The journal (index.journal): what record_issued appends, what load() replays, what compaction removes.

namespace {

struct JournalFolder {
  TempDir t;
  fs::path dir = t.path / "pki";
  store::CaFolder folder = std::move(store::CaFolder::create(dir, "C", "K", false, at("2026-01-01T00:00:00Z")).folder);
  fs::path journal = dir / "index.journal";
  fs::path index_json = dir / "index.json";
};

std::size_t lines_in(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

void append_raw(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::app | std::ios::binary);
  f << bytes;
}

}  // namespace

TEST_CASE("journal: record_issued appends one record per issuance, load replays it, compact folds it in") {
  JournalFolder f;
  auto lock = f.folder.lock(1s);
  auto index = f.folder.load_index();
  const std::string empty_index = store::read_file(f.index_json);
  f.folder.record_issued(index, entry("0101", "server"), "PEM1");
  f.folder.record_issued(index, entry("0202", "server"), "PEM2", {"0101"});
  f.folder.record_issued(index, entry("0303", "sensor-1"), "PEM3");
  index.revoke("0303", at("2026-02-01T00:00:00Z"), "keyCompromise");
  CHECK(index.next_crl_number() == 1);
  f.folder.commit(index);
  CHECK_FALSE(index.has_pending());

  // index.json untouched: four small records, no rewrite of the index.
  CHECK(store::read_file(f.index_json) == empty_index);
  const std::string journal = store::read_file(f.journal);
  CHECK(lines_in(journal) == 4);
  CHECK(index.journal().records == 4);
  CHECK(index.journal().bytes == journal.size());
  CHECK(mode_of(f.journal) == 0644U);

  auto back = f.folder.load_index();
  CHECK(back.to_json() == index.to_json());
  CHECK(back.journal().records == 4);
  CHECK_FALSE(back.has_pending());
  CHECK(back.find_serial("0101")->status == store::CertStatus::superseded);
  CHECK(back.find_serial("0101")->superseded_by == "0202");
  REQUIRE(back.valid_by_name("server").size() == 1);
  CHECK(back.valid_by_name("server")[0]->serial == "0202");
  CHECK(back.valid_by_cn("sensor-1").empty());
  CHECK(back.find_serial("0303")->revocation_reason == "keyCompromise");
  CHECK(back.crl_number() == 1);
  CHECK(store::read_file(f.dir / "issued" / "server.crt") == "PEM2");

  f.folder.compact(index);
  CHECK_FALSE(store::path_exists(f.journal));
  CHECK(index.journal().records == 0);
  CHECK(store::Index::parse(store::read_file(f.index_json), "index.json").to_json() == index.to_json());
  CHECK(f.folder.load_index().to_json() == index.to_json());
  // Nothing more to fold in: compact() writes nothing.
  const auto version = store::file_version(f.index_json);
  f.folder.compact(index);
  CHECK(store::file_version(f.index_json) == version);
}

TEST_CASE("journal: a torn last record is ignored and cut off by the next append; damage elsewhere is refused") {
  JournalFolder f;
  auto lock = f.folder.lock(1s);
  auto index = f.folder.load_index();
  f.folder.record_issued(index, entry("0101", "a"), "PEM");
  f.folder.record_issued(index, entry("0202", "b"), "PEM");
  const std::string whole = store::read_file(f.journal);

  SECTION("no newline at the end: a killed append") {
    append_raw(f.journal, R"({"v":1,"put":[{"serial":"0303","name":"c")");
  }
  SECTION("a last line that is not JSON") {
    append_raw(f.journal, "{\"v\":1,\"put\":[{\"ser\n");
  }
  auto back = f.folder.load_index();
  CHECK(back.entries().size() == 2);
  CHECK_FALSE(back.has_serial("0303"));
  CHECK(back.journal().torn_tail);
  CHECK(back.journal().records == 2);
  CHECK(back.journal().bytes == whole.size());

  // The next writer (under the lock) cuts the torn record off before appending its own.
  f.folder.record_issued(back, entry("0404", "d"), "PEM");
  const std::string after = store::read_file(f.journal);
  CHECK(after.substr(0, whole.size()) == whole);
  CHECK(lines_in(after) == 3);
  CHECK(after.back() == '\n');
  auto again = f.folder.load_index();
  CHECK_FALSE(again.journal().torn_tail);
  CHECK(again.entries().size() == 3);
  CHECK(again.has_serial("0404"));
}

TEST_CASE("journal: a damaged record before the last one is refused naming the file and line") {
  JournalFolder f;
  auto lock = f.folder.lock(1s);
  auto index = f.folder.load_index();
  f.folder.record_issued(index, entry("0101", "a"), "PEM");
  SECTION("bad JSON") { append_raw(f.journal, "{\"v\":1,\"put\n"); }
  SECTION("an entry without a name") { append_raw(f.journal, R"({"v":1,"put":[{"serial":"09"}]})" "\n"); }
  SECTION("a newer journal format") { append_raw(f.journal, R"({"v":2})" "\n"); }
  append_raw(f.journal, R"({"v":1,"crl_number":3})" "\n");
  try {
    (void)f.folder.load_index();
    FAIL("expected bad_format");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::bad_format);
    CHECK(std::string(e.what()).find(f.journal.string() + " line 2: ") == 0);
  }
}

TEST_CASE("journal: a compaction killed before the journal was removed replays without effect") {
  JournalFolder f;
  auto lock = f.folder.lock(1s);
  auto index = f.folder.load_index();
  f.folder.record_issued(index, entry("0101", "server"), "PEM1");
  f.folder.record_issued(index, entry("0202", "server"), "PEM2", {"0101"});
  index.revoke("0101", at("2026-03-01T00:00:00Z"), "superseded");  // revoked after it was superseded
  f.folder.commit(index);
  f.folder.record_issued(index, entry("0303", "server"), "PEM3", {"0202"});
  index.next_crl_number();
  index.next_crl_number();
  f.folder.commit(index);
  const std::string journal = store::read_file(f.journal);
  const std::string expected = index.to_json();

  // Compaction step 1 (index.json) done, step 2 (remove the journal) not: the journal is put back.
  f.folder.save_index(index);
  store::write_file_atomic(f.journal, journal, 0644, false);
  auto back = f.folder.load_index();
  CHECK(back.journal().records == 5);
  CHECK(back.to_json() == expected);
  CHECK(back.find_serial("0101")->status == store::CertStatus::revoked);  // not set back to superseded
  CHECK(back.crl_number() == 2);
  REQUIRE(back.valid_by_name("server").size() == 1);
  CHECK(back.valid_by_name("server")[0]->serial == "0303");

  // The next writer appends after those records, and the next compaction removes them.
  f.folder.record_issued(back, entry("0404", "other"), "PEM4");
  CHECK(f.folder.load_index().entries().size() == 4);
  f.folder.compact(back);
  CHECK_FALSE(store::path_exists(f.journal));
  CHECK(f.folder.load_index().to_json() == back.to_json());
}

TEST_CASE("journal: a certificate file that cannot be written takes its entry back, on disk too") {
  JournalFolder f;
  auto lock = f.folder.lock(1s);
  auto index = f.folder.load_index();
  f.folder.record_issued(index, entry("0101", "server"), "PEM1");
  auto blocked = entry("0B0B", "server");
  // A folder where the certificate file should go: the atomic rename fails.
  fs::remove(f.dir / "issued" / "server.crt");
  fs::create_directories(f.dir / "issued" / "server.crt" / "x");
  CHECK_THROWS_AS(f.folder.record_issued(index, blocked, "PEM2", {"0101"}), Error);
  CHECK_FALSE(index.has_serial("0B0B"));
  CHECK(index.find_serial("0101")->status == store::CertStatus::valid);
  CHECK(index.find_serial("0101")->superseded_by.empty());
  auto back = f.folder.load_index();
  CHECK_FALSE(back.has_serial("0B0B"));
  CHECK(back.find_serial("0101")->status == store::CertStatus::valid);
  CHECK(back.to_json() == index.to_json());
}

TEST_CASE("journal: many renewals, with the automatic compaction on the way, load as they were made") {
  JournalFolder f;
  auto lock = f.folder.lock(10s);
  auto index = f.folder.load_index();
  constexpr int names = 40;
  const std::size_t renewals = store::CaFolder::journal_compact_records + 100;
  std::vector<std::string> current(names);
  std::size_t n = 0;
  for (int i = 0; i < names; ++i, ++n) {
    current[i] = fmt::format("{:04X}", n + 1);
    f.folder.record_issued(index, entry(current[i], fmt::format("dev-{}", i)), "PEM");
  }
  for (; n < renewals; ++n) {
    const int i = static_cast<int>(n % names);
    const std::string serial = fmt::format("{:04X}", n + 1);
    f.folder.record_issued(index, entry(serial, fmt::format("dev-{}", i)), "PEM", {current[i]});
    current[i] = serial;
  }
  // Compacted once on the way (at journal_compact_records records), the rest still in the journal.
  CHECK(index.journal().records == renewals - store::CaFolder::journal_compact_records);
  CHECK(lines_in(store::read_file(f.journal)) == index.journal().records);
  CHECK(store::Index::parse(store::read_file(f.index_json), "index.json").entries().size() ==
        store::CaFolder::journal_compact_records);

  auto back = f.folder.load_index();
  REQUIRE(back.entries().size() == renewals);
  CHECK(back.to_json() == index.to_json());
  for (int i = 0; i < names; ++i) {
    const auto valid = back.valid_by_name(fmt::format("dev-{}", i));
    REQUIRE(valid.size() == 1);
    CHECK(valid[0]->serial == current[i]);
  }
  std::size_t superseded = 0;
  for (const auto& e : back.entries())
    if (e.status == store::CertStatus::superseded) {
      ++superseded;
      CHECK(back.has_serial(e.superseded_by));
    }
  CHECK(superseded == renewals - names);
  f.folder.compact(back);
  CHECK(f.folder.load_index().to_json() == index.to_json());
}

TEST_CASE("journal: a folder from before the journal (index.json only) loads as it is") {
  TempDir t;
  const fs::path dir = t.path / "pki";
  (void)store::CaFolder::create(dir, "C", "K", false, at("2026-01-01T00:00:00Z"));
  store::Index old;
  old.add(entry("0A", "a"));
  old.add(entry("0B", "b"));
  old.next_crl_number();
  old.save(dir / "index.json");
  auto folder = store::CaFolder::open(dir);
  auto index = folder.load_index();
  CHECK(index.to_json() == old.to_json());
  CHECK(index.journal().records == 0);
  CHECK_FALSE(index.has_pending());
  auto lock = folder.lock(1s);
  folder.compact(index);  // nothing to fold in: index.json stays as it was
  CHECK(store::read_file(dir / "index.json") == old.to_json());
}

TEST_CASE("journal: init-ca --force moves the journal to the backup with index.json") {
  JournalFolder f;
  {
    auto lock = f.folder.lock(1s);
    auto index = f.folder.load_index();
    f.folder.record_issued(index, entry("0101", "a"), "PEM");
  }
  auto made = store::CaFolder::create(f.dir, "C2", "K2", true, at("2026-02-01T00:00:00Z"));
  REQUIRE(made.backup.has_value());
  CHECK(store::path_exists(*made.backup / "index.journal"));
  CHECK(store::Index::load(*made.backup / "index.json").entries().size() == 1);
  CHECK_FALSE(store::path_exists(f.journal));
  CHECK(made.folder.load_index().entries().empty());
}

TEST_CASE("journal: a reader without the lock sees every entry while a writer appends and compacts") {
  JournalFolder f;
  constexpr int issues = 300;
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 0;
    try {
      auto lock = f.folder.lock(10s);
      auto index = f.folder.load_index();
      for (int i = 0; i < issues; ++i) {
        f.folder.record_issued(index, entry(fmt::format("{:04X}", i + 1), "dev"), "PEM",
                               i == 0 ? std::vector<std::string>{} : std::vector{fmt::format("{:04X}", i)});
        if (i % 2 == 1) f.folder.compact(index);  // as often as a run of single-certificate commands
      }
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  std::size_t seen = 0;
  int loads = 0;
  int status = 0;
  for (;;) {
    const bool done = ::waitpid(pid, &status, WNOHANG) == pid;
    const auto index = f.folder.load_index();
    ++loads;
    // Never fewer than before (a compaction in between loses nothing), one valid entry, a whole chain.
    CHECK(index.entries().size() >= seen);
    seen = index.entries().size();
    if (seen > 0) CHECK(index.valid_by_name("dev").size() == 1);
    if (done) break;
  }
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(seen == static_cast<std::size_t>(issues));
  CHECK(loads > 1);
}

TEST_CASE("journal: record_issued refused (serial taken, unknown superseded serial) changes nothing") {
  JournalFolder f;
  auto lock = f.folder.lock(1s);
  auto index = f.folder.load_index();
  f.folder.record_issued(index, entry("0101", "server"), "PEM1");
  const std::string before = index.to_json();
  const std::string journal = store::read_file(f.journal);
  CHECK_THROWS_AS(f.folder.record_issued(index, entry("0101", "other"), "PEM2"), Error);
  CHECK_THROWS_AS(f.folder.record_issued(index, entry("0202", "server"), "PEM2", {"0101", "7777"}), Error);
  CHECK(index.to_json() == before);
  CHECK(store::read_file(f.dir / "issued" / "server.crt") == "PEM1");
  CHECK_FALSE(store::path_exists(f.dir / "issued" / "other.crt"));
  f.folder.commit(index);
  CHECK(f.folder.load_index().to_json() == before);
  CHECK(store::read_file(f.journal).substr(0, journal.size()) == journal);
}
