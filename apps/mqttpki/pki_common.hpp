#pragma once
// Shared by the PKI commands (init-ca, gen-key, csr, sign, export-pem, inspect, list): loading inputs with
// errors that name the file, passphrase options, SAN flags, and writing outputs atomically.

#include "command.hpp"

#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/csr.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/name.hpp>
#include <mqttpki/pki/san.hpp>
#include <mqttpki/store/passphrase.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::cli::pki_common {

// --passphrase-file FILE (checked to exist by the command, not by CLI11, so the error is ours).
void add_passphrase_file_option(CLI::App& app, std::string& file, std::string_view what);

// The passphrase for reading an encrypted key: --passphrase-file, else MQTTPKI_PASSPHRASE, else a prompt on
// a terminal. nullopt when none is available.
[[nodiscard]] std::optional<store::Secret> passphrase_for_reading(const std::string& file, std::string_view prompt);

[[nodiscard]] std::optional<std::string_view> view(const std::optional<store::Secret>& secret);

// Loaders: read the file, detect PEM/DER, and put the file name in front of any error.
[[nodiscard]] pki::Certificate load_certificate(const std::filesystem::path& path);
[[nodiscard]] pki::Csr load_csr(const std::filesystem::path& path);
// An encrypted key takes its passphrase from passphrase_for_reading(passphrase_file). A key file open to group or
// others gets a warning on ctx.err (warn_loose_key).
[[nodiscard]] pki::PrivateKey load_private_key(Context& ctx, std::string_view command,
                                               const std::filesystem::path& path, const std::string& passphrase_file);
// "mqttpki COMMAND: warning: KEY is readable by group or others (mode 0644); run chmod 600 KEY" when it is.
void warn_loose_key(Context& ctx, std::string_view command, const std::filesystem::path& path);

// --key-type for new keys: p256 | p384 | ed25519 (aliases as pki::parse_key_type; rsa refused).
[[nodiscard]] pki::KeyType new_key_type(std::string_view text);

// A duration option (30d, 12h, 2w): Errc::invalid_argument "FLAG 'TEXT': why" (a usage error, exit 2).
[[nodiscard]] std::chrono::seconds duration_option(std::string_view flag, const std::string& text);

// The subject from --cn/--org/--country; an error says which flags to fix.
[[nodiscard]] pki::Name subject_from_flags(const std::string& cn, const std::string& org, const std::string& country);

// --san values; an error names the flag value and shows accepted forms.
[[nodiscard]] std::vector<pki::GeneralName> parse_sans(const std::vector<std::string>& values);

// The error for input detect_kind() could not classify: a PEM header without a readable body is called
// truncated or damaged; anything else "not EXPECTED in PEM or DER".
[[noreturn]] void throw_unrecognised(const std::filesystem::path& path, std::string_view data,
                                     std::string_view expected);

// Refuses an existing path unless force, before any work is done (the atomic write checks again).
void check_output_free(const std::filesystem::path& path, bool force);

// "mqttpki CMD: warning: TEXT" on the diagnostics stream.
void warn(Context& ctx, std::string_view command, std::string_view text);

}  // namespace mqttpki::cli::pki_common
