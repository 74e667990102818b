#include <mqttpki/error.hpp>
#include <mqttpki/store/lock.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

namespace mqttpki::store {

FolderLock& FolderLock::operator=(FolderLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    interrupted_ = other.interrupted_;
    other.fd_ = -1;
  }
  return *this;
}

FolderLock::~FolderLock() { release(); }

void FolderLock::release() noexcept {
  if (fd_ >= 0) {
    // The marker goes first: a holder that gets here finished. close() drops the lock; no LOCK_UN, which would
    // also unlock a forked child's shared descriptor.
    (void)::ftruncate(fd_, 0);
    ::close(fd_);
    fd_ = -1;
  }
}

FolderLock FolderLock::acquire(const std::filesystem::path& lock_file, std::chrono::milliseconds timeout) {
  // O_NOFOLLOW: a lock file replaced by a symbolic link must not make mqttpki create or open its target.
  int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP)
      throw Error(Errc::io, fmt::format("{}: is a symbolic link, which mqttpki does not follow in the CA folder; "
                                        "remove it (it is recreated)",
                                        lock_file.string()));
    throw Error(err == ENOENT ? Errc::not_found : Errc::io,
                fmt::format("{}: cannot open the lock file ({}); check the CA folder exists and is writable",
                            lock_file.string(), std::strerror(err)));
  }
  FolderLock lock(fd);
  // flock has no timed wait; poll with a short back-off up to the deadline.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(2);
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      lock.mark_held(lock_file);
      return lock;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err != EWOULDBLOCK)
      throw Error(Errc::io, fmt::format("{}: cannot lock ({}); check the file system supports flock",
                                        lock_file.string(), std::strerror(err)));
    if (std::chrono::steady_clock::now() >= deadline)
      throw Error(Errc::locked,
                  fmt::format("{}: the CA folder is locked by another mqttpki process; wait for it to finish and "
                              "retry",
                              lock_file.string()));
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

void FolderLock::mark_held(const std::filesystem::path& lock_file) {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw Error(Errc::io, fmt::format("{}: cannot stat it ({})", lock_file.string(), std::strerror(errno)));
  interrupted_ = st.st_size > 0;
  // Written over any marker a killed holder left, never truncated first: killed between the two, this holder
  // would leave no marker while the cleanup its predecessor needs (CaFolder::lock()) is still to be done.
  static constexpr char marker[] = "held\n";
  if (::pwrite(fd_, marker, sizeof marker - 1, 0) != sizeof marker - 1 || ::fdatasync(fd_) != 0)
    throw Error(Errc::io, fmt::format("{}: cannot write the lock marker ({}); check free disk space",
                                      lock_file.string(), std::strerror(errno)));
}

}  // namespace mqttpki::store
