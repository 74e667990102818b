#include <mqttpki/store/files.hpp>
#include <mqttpki/store/passphrase.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

namespace fs = std::filesystem;
using mqttpki::Errc;
using mqttpki::Error;
namespace store = mqttpki::store;

namespace {
fs::path temp_file(const std::string& name, const std::string& content) {
  fs::path p = fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  fs::remove(p);
  store::write_file_atomic(p, content, 0600, true);
  return p;
}
}  // namespace

TEST_CASE("a passphrase file gives its first line without the line ending") {
  auto p = temp_file("pp1", "correct horse\r\nsecond line\n");
  CHECK(store::read_passphrase_file(p).view() == "correct horse");
  fs::remove(p);
  p = temp_file("pp2", "no newline");
  CHECK(store::read_passphrase_file(p).view() == "no newline");
  fs::remove(p);
}

TEST_CASE("an empty passphrase file is refused with its name") {
  auto p = temp_file("pp3", "\nrest");
  try {
    (void)store::read_passphrase_file(p);
    FAIL("expected bad_passphrase");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::bad_passphrase);
    CHECK(std::string(e.what()).find(p.string()) == 0);
  }
  fs::remove(p);
}

TEST_CASE("the file wins over the environment, which wins over nothing") {
  auto p = temp_file("pp4", "from-file\n");
  ::setenv(store::passphrase_env, "from-env", 1);
  store::PassphraseRequest req;
  req.allow_prompt = false;
  req.file = p;
  CHECK(store::read_passphrase(req)->view() == "from-file");
  req.file.reset();
  CHECK(store::read_passphrase(req)->view() == "from-env");
  req.use_env = false;
  CHECK_FALSE(store::read_passphrase(req).has_value());
  ::unsetenv(store::passphrase_env);
  req.use_env = true;
  CHECK_FALSE(store::read_passphrase(req).has_value());
  fs::remove(p);
}
