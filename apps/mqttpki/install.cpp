#include "install.hpp"

#include <mqttpki/pki/error.hpp>

#include <fmt/format.h>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

namespace mqttpki::cli::install {

namespace fs = std::filesystem;

BundleFiles bundle_files(std::string_view bundle, const fs::path& dir, const std::string& name) {
  if (bundle == "node-red")
    return {dir / "ca_cert.pem", dir / (name + "_cert.pem"), dir / (name + "_key.pem"), dir / "crl.pem"};
  return {dir / "ca.crt", dir / (name + ".crt"), dir / (name + ".key"), dir / "crl.pem"};
}

void add_owner_options(CLI::App& app, std::string& owner, std::string& group) {
  app.add_option("--owner", owner, "Give the files to USER (needs root), e.g. mosquitto")->type_name("USER");
  app.add_option("--group", group, "Give the files to GROUP (needs root); the key is then 0640 for the group")
      ->type_name("GROUP");
}

Ownership resolve_ownership(const std::string& owner, const std::string& group) {
  Ownership o;
  if (owner.empty() && group.empty()) return o;
  if (!owner.empty()) {
    const passwd* pw = ::getpwnam(owner.c_str());
    if (pw == nullptr)
      throw Error(Errc::invalid_argument, fmt::format("--owner {}: no such user on this host", owner));
    o.ids.uid = static_cast<long>(pw->pw_uid);
  }
  if (!group.empty()) {
    const struct group* gr = ::getgrnam(group.c_str());
    if (gr == nullptr)
      throw Error(Errc::invalid_argument, fmt::format("--group {}: no such group on this host", group));
    o.ids.gid = static_cast<long>(gr->gr_gid);
    o.group_reads_key = true;
  }
  if (::geteuid() != 0)
    throw Error(Errc::invalid_argument,
                "--owner/--group give the files to another user, which only root can do: run it with sudo, "
                "or leave them out to keep the files yours");
  return o;
}

unsigned key_mode(const Ownership& o) { return o.group_reads_key ? 0640U : store::mode_secret; }

void prepare_dir(const fs::path& dir, const Ownership& o, bool holds_key) {
  if (store::path_exists(dir)) return;  // an existing folder keeps the owner and mode its admin chose
  const unsigned mode = o.group_reads_key ? 0750U : (holds_key ? store::mode_private_dir : store::mode_public_dir);
  store::ensure_dir(dir, mode);
  if (o.ids.uid >= 0 || o.ids.gid >= 0) store::set_owner(dir, o.ids);
}

bool write_if_changed(const fs::path& path, std::string_view bytes, unsigned mode, const Ownership& o) {
  if (store::path_exists(path) && store::read_file(path) == bytes) {
    // Same content: still give it the mode and owner asked for (a first run without --group, say).
    if (o.ids.uid >= 0 || o.ids.gid >= 0) store::set_owner(path, o.ids);
    store::set_mode(path, mode);
    return false;
  }
  store::write_file_atomic(path, bytes, mode, true, o.ids);
  return true;
}

}  // namespace mqttpki::cli::install
