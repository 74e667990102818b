#include <mqttpki/store/files.hpp>

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using mqttpki::Errc;
using mqttpki::Error;
namespace store = mqttpki::store;

namespace {

using mqttpki::test::TempDir;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode) & 07777U;
}

std::size_t entries_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

Errc code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("expected mqttpki::Error");
  return Errc::io;
}

}  // namespace

TEST_CASE("write_file_atomic writes the bytes with the exact mode and leaves no temp file") {
  TempDir t;
  const fs::path key = t.path / "k.pem";
  const ::mode_t old_umask = ::umask(022);
  store::write_file_atomic(key, "secret bytes\n", store::mode_secret, false);
  store::write_file_atomic(t.path / "c.pem", "cert\n", store::mode_public, false);
  ::umask(077);  // a strict umask does not change the requested mode of a public file
  store::write_file_atomic(t.path / "d.pem", "cert\n", store::mode_public, false);
  ::umask(old_umask);
  CHECK(store::read_file(key) == "secret bytes\n");
  CHECK(mode_of(key) == 0600U);
  CHECK(mode_of(t.path / "c.pem") == 0644U);
  CHECK(mode_of(t.path / "d.pem") == 0644U);
  CHECK(entries_in(t.path) == 3);
}

TEST_CASE("write_file_atomic refuses an existing file unless overwrite, and keeps the old content") {
  TempDir t;
  const fs::path f = t.path / "out.crt";
  store::write_file_atomic(f, "first", store::mode_public, false);
  try {
    store::write_file_atomic(f, "second", store::mode_public, false);
    FAIL("expected already_exists");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::already_exists);
    CHECK(std::string(e.what()) == f.string() + " exists; use --force to overwrite");
  }
  CHECK(store::read_file(f) == "first");
  CHECK(entries_in(t.path) == 1);  // the temp file was removed
  store::write_file_atomic(f, "second", store::mode_secret, true);
  CHECK(store::read_file(f) == "second");
  CHECK(mode_of(f) == 0600U);
  CHECK(entries_in(t.path) == 1);
}

TEST_CASE("write_file_atomic into a missing folder fails without creating anything") {
  TempDir t;
  CHECK(code_of([&] { store::write_file_atomic(t.path / "nope" / "f", "x", 0600, false); }) == Errc::not_found);
  CHECK(entries_in(t.path) == 0);
}

TEST_CASE("write_file_atomic into a read-only folder leaves no file behind") {
  if (::geteuid() == 0) {
    WARN("running as root: folder permissions are not enforced, case skipped");
    return;
  }
  TempDir t;
  const fs::path ro = t.path / "ro";
  fs::create_directory(ro);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  CHECK(code_of([&] { store::write_file_atomic(ro / "f", "x", 0600, false); }) == Errc::io);
  fs::permissions(ro, fs::perms::owner_all);
  CHECK(entries_in(ro) == 0);
}

TEST_CASE("read_file reports a missing file with its name") {
  TempDir t;
  try {
    (void)store::read_file(t.path / "missing.csr");
    FAIL("expected not_found");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::not_found);
    CHECK(std::string(e.what()).find("missing.csr: no such file") != std::string::npos);
  }
}

TEST_CASE("ensure_dir creates folders with the requested mode and accepts existing ones") {
  TempDir t;
  const fs::path priv = t.path / "ca" / "private";
  store::ensure_dir(priv, store::mode_private_dir);
  CHECK(mode_of(priv) == 0700U);
  CHECK(fs::is_directory(t.path / "ca"));
  store::ensure_dir(priv, store::mode_private_dir);  // idempotent
  std::ofstream(t.path / "file") << "x";
  CHECK(code_of([&] { store::ensure_dir(t.path / "file", 0700); }) == Errc::io);
}

TEST_CASE("remove_stale_temp_files removes a killed writer's temp files, not a live one's or other files") {
  TempDir t;
  // A child that exits at once gives a PID that is no longer running.
  pid_t dead = ::fork();
  REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  int status = 0;
  REQUIRE(::waitpid(dead, &status, 0) == dead);
  auto touch = [&](const std::string& name) { std::ofstream(t.path / name) << "x"; };
  const std::string stale = ".a.crt.tmp." + std::to_string(dead) + ".0.1f";
  const std::string live = ".index.json.tmp." + std::to_string(::getpid()) + ".3.ab";
  touch(stale);
  touch(live);
  touch("a.crt");
  touch(".lock");
  touch(".notes.tmp.x.1.2");
  CHECK(store::remove_stale_temp_files(t.path) == 1);
  CHECK_FALSE(fs::exists(t.path / stale));
  CHECK(fs::exists(t.path / live));
  CHECK(fs::exists(t.path / "a.crt"));
  CHECK(fs::exists(t.path / ".lock"));
  CHECK(fs::exists(t.path / ".notes.tmp.x.1.2"));
  CHECK(store::remove_stale_temp_files(t.path / "missing") == 0);
}

TEST_CASE("remove_file_durable removes a file, and a missing one is fine") {
  TempDir t;
  const fs::path p = t.path / "crl.pem";
  store::write_file_atomic(p, "x\n", 0644, false);
  store::remove_file_durable(p);
  CHECK_FALSE(store::path_exists(p));
  store::remove_file_durable(p);
}

TEST_CASE("StagedFile: the temp file holds the bytes before publish, publish renames, an unpublished one vanishes") {
  TempDir tmp;
  const auto target = tmp.path / "c.crt";
  std::ofstream(target) << "old";
  {
    store::StagedFile staged(target, "new bytes", store::mode_public, /*overwrite=*/true);
    CHECK(store::read_file(target) == "old");  // nothing in place yet
    CHECK(entries_in(tmp.path) == 2);        // the target and the staged temp file
  }
  CHECK(store::read_file(target) == "old");  // dropped unpublished: target untouched, temp removed
  CHECK(entries_in(tmp.path) == 1);

  store::StagedFile staged(target, "new bytes", store::mode_secret, /*overwrite=*/true);
  std::vector<store::StagedFile> moved;
  moved.push_back(std::move(staged));  // a moved-from one removes nothing
  moved.front().publish();
  CHECK(store::read_file(target) == "new bytes");
  CHECK(mode_of(target) == store::mode_secret);
  CHECK(entries_in(tmp.path) == 1);
  CHECK(code_of([&] { moved.front().publish(); }) == Errc::io);  // published twice is a bug, said so
}

TEST_CASE("StagedFile without overwrite refuses an existing target when staged and when published") {
  TempDir tmp;
  const auto target = tmp.path / "k.key";
  std::ofstream(target) << "old";
  CHECK(code_of([&] { store::StagedFile s(target, "x", store::mode_secret, /*overwrite=*/false); }) ==
        Errc::already_exists);
  fs::remove(target);
  store::StagedFile staged(target, "mine", store::mode_secret, /*overwrite=*/false);
  std::ofstream(target) << "theirs";  // another writer won the name meanwhile
  CHECK(code_of([&] { staged.publish(); }) == Errc::already_exists);
  CHECK(store::read_file(target) == "theirs");
}
