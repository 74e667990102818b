#include <mqttpki/error.hpp>
#include <mqttpki/store/lock.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using mqttpki::Errc;
using mqttpki::Error;
using mqttpki::store::FolderLock;
using namespace std::chrono_literals;

namespace {
fs::path lock_path() { return fs::temp_directory_path() / ("mqttpki-lock-test-" + std::to_string(::getpid())); }
}  // namespace

TEST_CASE("a second lock on another descriptor times out with Errc::locked, then succeeds after release") {
  const fs::path p = lock_path();
  auto first = FolderLock::acquire(p, 1s);
  REQUIRE(first.held());
  try {
    (void)FolderLock::acquire(p, 100ms);
    FAIL("expected locked");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::locked);
    CHECK(std::string(e.what()).find(p.string()) == 0);
  }
  first.release();
  auto second = FolderLock::acquire(p, 100ms);
  CHECK(second.held());
  second.release();
  fs::remove(p);
}

TEST_CASE("a forked child cannot take the lock the parent holds") {
  const fs::path p = lock_path();
  auto held = FolderLock::acquire(p, 1s);
  // The pipe tells the parent the child's verdict without relying on timing.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The inherited descriptor shares the parent's lock; a fresh open() in acquire() must contend with it.
    int code = 2;
    try {
      (void)FolderLock::acquire(p, 150ms);
      code = 0;
    } catch (const Error& e) {
      code = e.code() == Errc::locked ? 1 : 3;
    }
    ::_exit(code);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  held.release();
  fs::remove(p);
}

TEST_CASE("the lock is released when the holder goes out of scope") {
  const fs::path p = lock_path();
  { auto a = FolderLock::acquire(p, 1s); }
  auto b = FolderLock::acquire(p, 100ms);
  CHECK(b.held());
  b.release();
  fs::remove(p);
}

TEST_CASE("the next holder knows when the previous one died holding the lock") {
  const fs::path p = lock_path();
  {
    auto first = FolderLock::acquire(p, 1s);
    CHECK_FALSE(first.previous_holder_interrupted());
  }
  {
    auto second = FolderLock::acquire(p, 1s);  // the first one released it: nothing to clean up
    CHECK_FALSE(second.previous_holder_interrupted());
  }
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto held = FolderLock::acquire(p, 1s);
    ::_exit(0);  // dies holding it, as a killed command does: no destructor runs
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  {
    auto after_kill = FolderLock::acquire(p, 1s);
    CHECK(after_kill.previous_holder_interrupted());
  }
  auto again = FolderLock::acquire(p, 1s);
  CHECK_FALSE(again.previous_holder_interrupted());
  again.release();
  fs::remove(p);
}
