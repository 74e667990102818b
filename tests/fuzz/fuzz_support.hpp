#pragma once
// Shared by the fuzz targets: how a target reports a bug (one line on stderr, then abort(), which libFuzzer and
// the replay runner both treat as a finding), and the rule that bad input may answer with an mqttpki::Error
// carrying a message, never with anything else. Each target defines fuzz_target_name for the reports.

#include <mqttpki/error.hpp>

#include <cstdio>
#include <cstdlib>
#include <string_view>

extern const char* const fuzz_target_name;

namespace fuzz_support {

[[noreturn]] inline void bug(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "%s: %.*s%s%.*s\n", fuzz_target_name, static_cast<int>(what.size()), what.data(),
               detail.empty() ? "" : ": ", static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// Runs f; an mqttpki::Error is the expected answer to bad input, anything else escapes and aborts.
template <typename F>
void expect_error_or_ok(F&& f) {
  try {
    f();
  } catch (const mqttpki::Error& e) {
    if (std::string_view(e.what()).empty()) bug("an Error with an empty message");
  }
}

}  // namespace fuzz_support
