#pragma once
// An exclusive advisory lock (flock) on DIR/.lock, held for the whole of a mutating command so two processes
// never interleave their read-modify-write of the index. The kernel drops it when the process dies, so a
// crash never leaves a stale lock. While held, the file holds a marker (synced) that release() clears, so the
// next holder knows when the previous one was killed and left work to clean up (CaFolder::lock()).

#include <chrono>
#include <filesystem>

namespace mqttpki::store {

inline constexpr std::chrono::seconds default_lock_timeout{30};

class FolderLock {
 public:
  // Waits up to `timeout` for the lock, then throws Errc::locked naming the lock file.
  [[nodiscard]] static FolderLock acquire(const std::filesystem::path& lock_file,
                                          std::chrono::milliseconds timeout = default_lock_timeout);
  FolderLock(FolderLock&& other) noexcept : fd_(other.fd_), interrupted_(other.interrupted_) { other.fd_ = -1; }
  FolderLock& operator=(FolderLock&& other) noexcept;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock();

  [[nodiscard]] bool held() const noexcept { return fd_ >= 0; }
  // True when the previous holder died holding the lock (killed, power loss): its marker was still there.
  [[nodiscard]] bool previous_holder_interrupted() const noexcept { return interrupted_; }
  void release() noexcept;

 private:
  explicit FolderLock(int fd) noexcept : fd_(fd) {}
  void mark_held(const std::filesystem::path& lock_file);
  int fd_ = -1;
  bool interrupted_ = false;
};

}  // namespace mqttpki::store
