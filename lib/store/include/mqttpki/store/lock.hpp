#pragma once
// An exclusive advisory lock (flock) on DIR/.lock, held for the whole of a mutating command so two processes
// never interleave their read-modify-write of the index. The kernel drops it when the process dies, so a
// crash never leaves a stale lock.

#include <chrono>
#include <filesystem>

namespace mqttpki::store {

inline constexpr std::chrono::seconds default_lock_timeout{30};

class FolderLock {
 public:
  // Waits up to `timeout` for the lock, then throws Errc::locked naming the lock file.
  [[nodiscard]] static FolderLock acquire(const std::filesystem::path& lock_file,
                                          std::chrono::milliseconds timeout = default_lock_timeout);
  FolderLock(FolderLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FolderLock& operator=(FolderLock&& other) noexcept;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock();

  [[nodiscard]] bool held() const noexcept { return fd_ >= 0; }
  void release() noexcept;

 private:
  explicit FolderLock(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace mqttpki::store
