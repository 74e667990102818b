#pragma once
// File helpers: the only place mqttpki reads and writes files. Every write is atomic (temp file in the same
// folder, fsync, rename, fsync the folder), so a crash leaves either the old file or the new one, never half.
// Errors are mqttpki::Error with one line naming the file and the fix.

#include <mqttpki/error.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace mqttpki::store {

// Whole file as bytes. Errc::not_found "FILE: no such file", Errc::io "FILE: permission denied; ...".
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

inline constexpr unsigned mode_secret = 0600;   // private keys
inline constexpr unsigned mode_public = 0644;   // certificates, CSRs, the index
inline constexpr unsigned mode_private_dir = 0700;
inline constexpr unsigned mode_public_dir = 0755;

// Owner and group to give a written file (for a service user, e.g. Mosquitto's key 0640 root:mosquitto);
// -1 leaves the creator's. Changing them needs root (Errc::io otherwise).
struct FileOwner {
  long uid = -1;
  long gid = -1;
};

// Writes bytes to path atomically with exactly `mode` (set when the temp file is created, then fixed against
// the umask). Refuses an existing target with Errc::already_exists ("FILE exists; use --force to overwrite")
// unless overwrite. Never leaves a partial target; the temp file is removed on every error path. `owner` is
// set on the temp file before it takes the target's name, so no reader ever sees the file with the wrong one.
// Durability::now: the file and its folder entry are fsync'd before the call returns. later: they are not; the
// caller makes a batch of such writes durable at once with sync_file_system() (renew --all writes thousands of
// certificate files, which the database can always write again, so one sync per batch is enough).
// Same as StagedFile(...).publish().
enum class Durability { now, later };
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes, unsigned mode,
                       bool overwrite, FileOwner owner = {}, Durability durability = Durability::now);

// The two halves of write_file_atomic, for a write that must not fail after a commit: the constructor writes the
// temp file next to `path` (synced when `now`; with `later` the caller runs sync_file_system() before relying on
// it) and does every check that can fail for want of space; publish() renames it into place, which needs no new
// blocks, so a full disk fails before the commit, not after. Destroying an unpublished one removes the temp.
class StagedFile {
 public:
  StagedFile(std::filesystem::path path, std::string_view bytes, unsigned mode, bool overwrite,
             FileOwner owner = {}, Durability durability = Durability::now);
  StagedFile(StagedFile&& other) noexcept;
  StagedFile& operator=(StagedFile&&) = delete;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  ~StagedFile();

  void publish();
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
  std::filesystem::path temp_;  // empty once published or moved from
  bool overwrite_;
  Durability durability_;
};

// rename(2) with the error naming both paths; the caller syncs the folders it changed.
void move_path(const std::filesystem::path& from, const std::filesystem::path& to);

// Removes a file (a missing one is fine) and syncs its folder, so the removal survives a crash.
void remove_file_durable(const std::filesystem::path& path);

// Removes the temp files write_file_atomic leaves when its process is killed (SIGKILL, power loss) between
// creating ".NAME.tmp.PID.N.X" and the rename: those in `dir` (not recursive) whose PID is not a running
// process. Best effort, never throws; returns how many were removed. CaFolder::lock() calls it for the CA
// folder, so a crash's debris is cleared by the next mutating command.
std::size_t remove_stale_temp_files(const std::filesystem::path& dir) noexcept;

// Creates the folder (and its parents) if missing; a folder this call creates gets exactly `mode`.
// An existing non-folder is Errc::io.
void ensure_dir(const std::filesystem::path& path, unsigned mode);

// Sets the mode of an existing file or folder (e.g. to tighten DIR/private to 0700).
void set_mode(const std::filesystem::path& path, unsigned mode);

// syncfs(2) on the file system holding `dir`: every write_file_atomic(..., Durability::later) before it is on
// disk when it returns.
void sync_file_system(const std::filesystem::path& dir);

// Sets the owner and group of an existing file or folder (-1 keeps one). Needs root to give it away.
void set_owner(const std::filesystem::path& path, FileOwner owner);

// fsync a folder so a rename or a new entry in it survives a crash.
void sync_dir(const std::filesystem::path& dir);

[[nodiscard]] bool path_exists(const std::filesystem::path& path);

// A warning when `path` (a key, a passphrase file, the CA's private/ folder) grants group or other any access:
// "pki/private/ca.key is readable by group or others (mode 0644); run chmod 600 pki/private/ca.key". nullopt
// when it does not, or does not exist.
[[nodiscard]] std::optional<std::string> loose_permissions(const std::filesystem::path& path);

// Runs f; an mqttpki::Error from it is rethrown with "FILE: " in front, since pki messages do not know files.
template <typename F>
auto with_file(const std::filesystem::path& file, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(e.code(), file.string() + ": " + e.what());
  }
}

}  // namespace mqttpki::store
