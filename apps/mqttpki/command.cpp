#include "command.hpp"

#include <algorithm>
#include <cstdlib>

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

void add_dir_option(CLI::App& app, std::string& dir) {
  const char* env = std::getenv("MQTTPKI_DIR");
  dir = (env != nullptr && *env != '\0') ? env : "pki";
  app.add_option("--dir", dir, "CA folder (default: $MQTTPKI_DIR, else ./pki)")->capture_default_str();
}

}  // namespace mqttpki::cli
