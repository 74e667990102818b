// mqttpki: parse the command line, run one command, and decide the exit code in one place.

#include "command.hpp"
#include "version.hpp"

#include <mqttpki/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <string_view>

namespace {

// Exit codes, documented in README.md: 0 success, 1 error, 2 usage error, 3 a check failed
// (verify found a problem), 4 the CA folder is locked by another process; 5 (returned by `renew --via` and
// `crl --via` themselves, device_link.hpp) a request is queued and not answered yet.
int exit_code_for(mqttpki::Errc code) {
  switch (code) {
    case mqttpki::Errc::invalid_argument:
      return 2;
    case mqttpki::Errc::verify_failed:
      return 3;
    case mqttpki::Errc::locked:
      return 4;
    default:
      return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe or socket is an error return, not a dead process
  CLI::App app{"mqttpki: a private PKI for MQTT over mutual TLS, with a bundled TLS MQTT 3.1.1 broker"};
  app.set_version_flag("--version", std::string("mqttpki ") + MQTTPKI_VERSION);
  app.require_subcommand(1);
  app.footer("Run 'mqttpki COMMAND --help' for a command's options and an example.");

  struct Entry {
    CLI::App* app;
    std::unique_ptr<mqttpki::cli::Command> command;
  };
  // When the first argument names a command, only that command is set up: a long-running broker then
  // does not hold the other commands' option tables (memory and code pages), and every command starts
  // with less work. Anything else (--help, --version, a typo) sets up all of them, for the full help.
  const auto& specs = mqttpki::cli::registered_commands();
  const std::string_view first = argc > 1 ? std::string_view(argv[1]) : std::string_view();
  const bool one = std::any_of(specs.begin(), specs.end(), [&](const auto& s) { return s.name == first; });
  std::vector<Entry> entries;
  for (const auto& spec : specs) {
    if (one && spec.name != first) continue;
    auto* sub = app.add_subcommand(spec.name, spec.description);
    auto command = spec.make();
    command->configure(*sub);
    entries.push_back({sub, std::move(command)});
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << mqttpki::cli::usage_error_line(argc, argv, e.what()) << "\n";
    return 2;
  }

  mqttpki::cli::Context ctx{std::cout, std::cerr};
  for (auto& entry : entries) {
    if (!entry.app->parsed()) continue;
    try {
      int rc = entry.command->run(ctx);
      std::cout.flush();
      return rc;
    } catch (const mqttpki::Error& e) {
      std::cout.flush();
      std::cerr << fmt::format("mqttpki {}: error: {}\n", entry.app->get_name(), e.what());
      return exit_code_for(e.code());
    } catch (const std::exception& e) {
      std::cout.flush();
      std::cerr << fmt::format("mqttpki {}: error: {}\n", entry.app->get_name(), e.what());
      return 1;
    }
  }
  return 2;
}
