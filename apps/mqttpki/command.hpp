#pragma once
// A command is a small unit: options bound in configure(), a thin run() that loads inputs, calls one
// library function and prints. Each commands/*.cpp registers itself with MQTTPKI_REGISTER_COMMAND.
// Errors are thrown as mqttpki::Error; main.cpp turns them into one line on stderr and an exit code.

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::cli {

struct Context {
  std::ostream& out;  // results: stable, scriptable
  std::ostream& err;  // diagnostics, warnings, progress
};

class Command {
 public:
  virtual ~Command() = default;
  virtual void configure(CLI::App& app) = 0;
  virtual int run(Context& ctx) = 0;  // return value is the exit code
};

struct CommandSpec {
  std::string name;
  std::string description;
  int order;  // position in --help: PKI lifecycle 10-100, MQTT 110-140, templates 150
  std::unique_ptr<Command> (*make)();
};

bool register_command(CommandSpec spec);
const std::vector<CommandSpec>& registered_commands();

// The one line printed for a command line the parser refused (exit 2): "mqttpki CMD: error: WHAT; see
// `mqttpki CMD --help`", and for a first word that names no command, the nearest command's name.
[[nodiscard]] std::string usage_error_line(int argc, char** argv, std::string_view what);

// The registered command closest to `word` (edit distance at most a third of its length, at least 2), or
// nothing: "sgin" -> "sign".
[[nodiscard]] std::string nearest_command(std::string_view word);

// --dir DIR with the default $MQTTPKI_DIR, else ./pki.
void add_dir_option(CLI::App& app, std::string& dir);

}  // namespace mqttpki::cli

#define MQTTPKI_REGISTER_COMMAND(Type, name, order, description)                                  \
  namespace {                                                                                     \
  [[maybe_unused]] const bool registered_##Type = ::mqttpki::cli::register_command(               \
      {name, description, order, []() -> std::unique_ptr<::mqttpki::cli::Command> {               \
         return std::make_unique<Type>();                                                         \
       }});                                                                                       \
  }
