#include <mqttpki/store/files.hpp>
#include <mqttpki/store/passphrase.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <termios.h>
#include <unistd.h>

namespace mqttpki::store {

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    value_ = std::move(other.value_);
    other.wipe();
  }
  return *this;
}

void Secret::wipe() noexcept {
  volatile char* p = value_.data();
  for (std::size_t i = 0; i < value_.size(); ++i) p[i] = 0;
  value_.clear();
}

Secret read_passphrase_file(const std::filesystem::path& path) {
  Secret whole{read_file(path)};
  const std::string& text = whole.view();
  std::size_t end = text.find('\n');
  if (end == std::string::npos) end = text.size();
  if (end > 0 && text[end - 1] == '\r') --end;
  if (end == 0)
    throw Error(Errc::bad_passphrase,
                fmt::format("{}: empty passphrase; write the passphrase on the first line", path.string()));
  return Secret{text.substr(0, end)};
}

namespace {

// Reads one line from the terminal with echo off; the terminal state is restored on every path.
std::optional<Secret> prompt_line(const std::string& prompt) {
  std::fputs(prompt.c_str(), stderr);
  std::fflush(stderr);
  termios old_state{};
  bool restore = ::tcgetattr(STDIN_FILENO, &old_state) == 0;
  if (restore) {
    termios quiet = old_state;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  bool ok = static_cast<bool>(std::getline(std::cin, line));
  if (restore) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old_state);
  std::fputs("\n", stderr);
  Secret secret{std::move(line)};
  if (!ok) return std::nullopt;
  return secret;
}

}  // namespace

std::optional<Secret> read_passphrase(const PassphraseRequest& request) {
  if (request.file) return read_passphrase_file(*request.file);
  if (request.use_env) {
    const char* env = std::getenv(passphrase_env);
    if (env != nullptr && *env != '\0') return Secret{std::string(env)};
  }
  if (request.allow_prompt && ::isatty(STDIN_FILENO) == 1) {
    auto first = prompt_line(request.prompt);
    if (!first || first->empty()) return std::nullopt;
    if (request.confirm) {
      auto second = prompt_line("Repeat the passphrase: ");
      if (!second || second->view() != first->view())
        throw Error(Errc::bad_passphrase, "the two passphrases differ; run the command again");
    }
    return first;
  }
  return std::nullopt;
}

}  // namespace mqttpki::store
