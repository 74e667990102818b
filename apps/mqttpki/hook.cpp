#include "hook.hpp"

#include <fmt/format.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

extern char** environ;

namespace mqttpki::cli {

namespace {
bool kept(std::string_view entry) {
  return !entry.starts_with("MQTTPKI_") || entry.starts_with("MQTTPKI_DIR=");
}
}  // namespace

std::optional<std::string> run_hook(const std::string& command, const HookVars& vars) {
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e)
    if (kept(*e)) env_strings.emplace_back(*e);
  for (const auto& [key, value] : vars) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::string sh = "/bin/sh";
  std::string dash_c = "-c";
  std::string cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return fmt::format("could not start /bin/sh ({})", std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return fmt::format("waiting for it failed ({})", std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return std::nullopt;
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {}", WTERMSIG(status));
  return std::string("failed");
}

HookVars certificate_hook_vars(const std::string& name, const std::filesystem::path& cert,
                               const std::filesystem::path& ca, const std::string& serial, HookVars extra) {
  HookVars vars{{"MQTTPKI_KIND", "certificate"},
                {"MQTTPKI_NAME", name},
                {"MQTTPKI_CERT", std::filesystem::absolute(cert).string()},
                {"MQTTPKI_CA", std::filesystem::absolute(ca).string()},
                {"MQTTPKI_SERIAL", serial}};
  vars.insert(vars.end(), extra.begin(), extra.end());
  return vars;
}

}  // namespace mqttpki::cli
