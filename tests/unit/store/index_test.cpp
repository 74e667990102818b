#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/index.hpp>

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
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
