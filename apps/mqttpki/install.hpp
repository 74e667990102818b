#pragma once
// Writing TLS files where a service reads them: the bundle's file names (Mosquitto, Node-RED), the owner,
// group and modes the service needs, and "only if changed" so a reload runs only when something is new.
// Shared by `export-pem --bundle` and `deploy`.

#include <mqttpki/store/files.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace mqttpki::cli::install {

struct BundleFiles {
  std::filesystem::path ca;    // mosquitto: ca.crt        node-red: ca_cert.pem
  std::filesystem::path cert;  //            NAME.crt                NAME_cert.pem
  std::filesystem::path key;   //            NAME.key                NAME_key.pem
  std::filesystem::path crl;   //            crl.pem                 crl.pem
};
// bundle is "mosquitto" or "node-red" (checked by the option).
[[nodiscard]] BundleFiles bundle_files(std::string_view bundle, const std::filesystem::path& dir,
                                       const std::string& name);

// --owner USER --group GROUP, as the resolved ids plus what they imply for the modes.
struct Ownership {
  store::FileOwner ids;
  bool group_reads_key = false;  // --group given: key 0640 (the service reads it through its group)
};
void add_owner_options(CLI::App& app, std::string& owner, std::string& group);
// Unknown user or group: Errc::invalid_argument. Given but not running as root: Errc::invalid_argument
// saying to run with sudo, since only root can give a file away.
[[nodiscard]] Ownership resolve_ownership(const std::string& owner, const std::string& group);

[[nodiscard]] unsigned key_mode(const Ownership& o);  // 0640 with a group, else 0600
// Creates dir if missing: 0750 with a group (the service must enter it), else 0700 when it holds a key, else
// 0755; then gives it the owner and group.
void prepare_dir(const std::filesystem::path& dir, const Ownership& o, bool holds_key);

// Writes bytes to path atomically with mode and owner, unless path already holds exactly these bytes (then
// only its mode and owner are set). Returns true when it wrote.
bool write_if_changed(const std::filesystem::path& path, std::string_view bytes, unsigned mode, const Ownership& o);

}  // namespace mqttpki::cli::install
