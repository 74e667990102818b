#pragma once
// Passphrases come from a file (--passphrase-file F, first line), the environment (MQTTPKI_PASSPHRASE) or an
// interactive prompt without echo when stdin is a terminal. Never from argv; never printed.

#include <filesystem>
#include <optional>
#include <string>

namespace mqttpki::store {

// A secret string wiped from memory when destroyed.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
  Secret& operator=(Secret&& other) noexcept;
  ~Secret() { wipe(); }
  [[nodiscard]] const std::string& view() const noexcept { return value_; }
  [[nodiscard]] bool empty() const noexcept { return value_.empty(); }

 private:
  void wipe() noexcept;
  std::string value_;
};

inline constexpr const char* passphrase_env = "MQTTPKI_PASSPHRASE";

struct PassphraseRequest {
  std::optional<std::filesystem::path> file;  // --passphrase-file
  bool use_env = true;                        // MQTTPKI_PASSPHRASE
  bool allow_prompt = true;                   // prompt on the terminal when stdin is a TTY
  bool confirm = false;                       // prompt twice (creating a new encrypted key)
  std::string prompt = "Passphrase: ";
};

// The passphrase from the first source that has one (file, then environment, then prompt), or nullopt when
// none is available. A file that is missing, unreadable or empty is an error naming the file.
[[nodiscard]] std::optional<Secret> read_passphrase(const PassphraseRequest& request);

// The first line of a passphrase file, without its line ending (exposed for tests).
[[nodiscard]] Secret read_passphrase_file(const std::filesystem::path& path);

}  // namespace mqttpki::store
