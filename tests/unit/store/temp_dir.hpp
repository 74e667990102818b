#pragma once
// A fresh folder under the system temp dir for one test, removed with everything in it afterwards.

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <system_error>

#include <stdlib.h>

namespace mqttpki::test {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "mqttpki-store-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace mqttpki::test
