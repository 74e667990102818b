#include "command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>

namespace mqttpki::cli {

namespace {
std::vector<CommandSpec>& registry() {
  static std::vector<CommandSpec> commands;
  return commands;
}
}  // namespace

bool register_command(CommandSpec spec) {
  auto& r = registry();
  r.push_back(std::move(spec));
  std::stable_sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
  return true;
}

const std::vector<CommandSpec>& registered_commands() { return registry(); }

namespace {
// Levenshtein distance (insert, delete, substitute), one row at a time.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}
}  // namespace

std::string nearest_command(std::string_view word) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;  // "sgin" is 2 from "sign"
  for (const auto& spec : registry()) {
    const std::size_t d = edit_distance(word, spec.name);
    if (d < best_distance) {
      best_distance = d;
      best = spec.name;
    }
  }
  return best;
}

std::string usage_error_line(int argc, char** argv, std::string_view what) {
  std::string message(what);
  std::replace(message.begin(), message.end(), '\n', ' ');
  const std::string_view first = argc > 1 ? std::string_view(argv[1]) : std::string_view();
  const bool is_command =
      std::any_of(registry().begin(), registry().end(), [&](const auto& s) { return s.name == first; });
  if (is_command) return fmt::format("mqttpki {}: error: {}; see `mqttpki {} --help`", first, message, first);
  if (first.empty() || first.starts_with('-'))
    return fmt::format("mqttpki: error: {}; see `mqttpki --help`", message);
  const std::string near = nearest_command(first);
  if (!near.empty())
    return fmt::format("mqttpki {}: error: unknown command; did you mean `{}`?", first, near);
  return fmt::format("mqttpki {}: error: unknown command; see `mqttpki --help` for the list", first);
}

void add_dir_option(CLI::App& app, std::string& dir) {
  const char* env = std::getenv("MQTTPKI_DIR");
  dir = (env != nullptr && *env != '\0') ? env : "pki";
  app.add_option("--dir", dir, "CA folder (default: $MQTTPKI_DIR, else ./pki)")->capture_default_str();
}

}  // namespace mqttpki::cli
