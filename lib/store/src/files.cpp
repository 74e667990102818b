#include <mqttpki/store/files.hpp>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mqttpki::store {

namespace fs = std::filesystem;

namespace {

// A file descriptor that closes itself.
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const noexcept { return fd_; }
  int release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

std::string errno_text(int err) { return std::strerror(err); }

// One line naming the file and what to do about it.
[[noreturn]] void throw_errno(int err, const fs::path& path, std::string_view action) {
  if (err == ENOENT) throw Error(Errc::not_found, fmt::format("{}: no such file or folder", path.string()));
  if (err == EACCES || err == EPERM)
    throw Error(Errc::io, fmt::format("{}: permission denied while {}; check its permissions and owner",
                                      path.string(), action));
  if (err == ENOSPC || err == EDQUOT)
    throw Error(Errc::io, fmt::format("{}: no space left while {}; free some disk space", path.string(), action));
  if (err == EROFS)
    throw Error(Errc::io,
                fmt::format("{}: read-only file system while {}; choose a writable location", path.string(), action));
  throw Error(Errc::io, fmt::format("{}: {} failed: {}", path.string(), action, errno_text(err)));
}

std::string temp_suffix() {
  static std::atomic<unsigned> counter{0};
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format(".tmp.{}.{}.{:x}", ::getpid(), counter.fetch_add(1), rng() & 0xffffffffU);
}

void write_all(int fd, std::string_view bytes, const fs::path& path) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, path, "writing");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

fs::path parent_or_dot(const fs::path& path) {
  fs::path parent = path.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

}  // namespace

std::string read_file(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    int err = errno;
    if (err == ENOENT) throw Error(Errc::not_found, fmt::format("{}: no such file; check the path", path.string()));
    if (err == EACCES || err == EPERM)
      throw Error(Errc::io, fmt::format("{}: permission denied; make it readable by this user (chmod/chown) or "
                                        "run as its owner",
                                        path.string()));
    throw_errno(err, path, "opening");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno(errno, path, "reading");
  if (S_ISDIR(st.st_mode))
    throw Error(Errc::invalid_argument, fmt::format("{}: is a folder, not a file; give the path of a file", path.string()));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, path, "reading");
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (64U << 20))
      throw Error(Errc::bad_format, fmt::format("{}: larger than 64 MiB; not a key, certificate or CSR", path.string()));
  }
  return out;
}

void sync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) throw_errno(errno, dir, "opening the folder to sync it");
  if (::fsync(fd.get()) != 0 && errno != EINVAL) throw_errno(errno, dir, "syncing the folder");
}

std::size_t remove_stale_temp_files(const fs::path& dir) noexcept {
  std::size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // ".TARGET.tmp.PID.N.X", as temp_suffix() makes it.
    const std::size_t tmp = name.rfind(".tmp.");
    if (name.size() < 2 || name[0] != '.' || tmp == std::string::npos || tmp == 0) continue;
    const std::string rest = name.substr(tmp + 5);
    const std::size_t dot = rest.find('.');
    if (dot == 0 || dot == std::string::npos) continue;
    long pid = 0;
    bool digits = true;
    for (std::size_t i = 0; i < dot; ++i) {
      if (rest[i] < '0' || rest[i] > '9' || pid > 100'000'000) {
        digits = false;
        break;
      }
      pid = pid * 10 + (rest[i] - '0');
    }
    if (!digits || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // its writer may still run
    std::error_code rm;
    if (fs::remove(it->path(), rm)) ++removed;
  }
  return removed;
}

bool path_exists(const fs::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

StagedFile::StagedFile(fs::path path, std::string_view bytes, unsigned mode, bool overwrite, FileOwner owner,
                       Durability durability)
    : path_(std::move(path)), overwrite_(overwrite), durability_(durability) {
  const fs::path dir = parent_or_dot(path_);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT)
      throw Error(Errc::not_found,
                  fmt::format("{}: folder {} does not exist; create it first", path_.string(), dir.string()));
    throw_errno(errno, dir, "looking up the folder");
  }
  if (!overwrite && path_exists(path_))
    throw Error(Errc::already_exists, fmt::format("{} exists; use --force to overwrite", path_.string()));

  fs::path temp;
  int raw = -1;
  for (int attempt = 0; attempt < 16 && raw < 0; ++attempt) {
    // Built with append, not operator+: GCC 12 at -O3 reports a false -Wrestrict on the latter.
    std::string temp_name(".");
    temp_name.append(path_.filename().string()).append(temp_suffix());
    temp = dir / temp_name;
    // The mode is set at creation, so a key is never readable by others even for a moment.
    raw = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
    if (raw < 0 && errno != EEXIST) throw_errno(errno, path_, "creating a temporary file next to it");
  }
  if (raw < 0) throw Error(Errc::io, fmt::format("{}: could not create a unique temporary file", path_.string()));
  Fd fd(raw);
  temp_ = temp;  // from here on the destructor removes it
  try {
    // The umask may have removed bits (0644 -> 0600); make the mode exact so results are predictable.
    if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) throw_errno(errno, path_, "setting the file mode");
    if ((owner.uid >= 0 || owner.gid >= 0) &&
        ::fchown(fd.get(), static_cast<uid_t>(owner.uid), static_cast<gid_t>(owner.gid)) != 0)
      throw_errno(errno, path_, "setting the file's owner and group");
    write_all(fd.get(), bytes, path_);
    if (durability == Durability::now && ::fsync(fd.get()) != 0) throw_errno(errno, path_, "syncing");
    if (::close(fd.release()) != 0) throw_errno(errno, path_, "closing");
  } catch (...) {
    ::unlink(temp_.c_str());
    throw;
  }
}

StagedFile::StagedFile(StagedFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_(std::exchange(other.temp_, fs::path())),
      overwrite_(other.overwrite_),
      durability_(other.durability_) {}

StagedFile::~StagedFile() {
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

void StagedFile::publish() {
  if (temp_.empty()) throw Error(Errc::io, fmt::format("{}: published twice", path_.string()));
  if (overwrite_) {
    if (::rename(temp_.c_str(), path_.c_str()) != 0) throw_errno(errno, path_, "renaming the temporary file");
  } else {
    // link() fails with EEXIST atomically, so two writers racing for the same name cannot both win.
    if (::link(temp_.c_str(), path_.c_str()) != 0) {
      int err = errno;
      if (err == EEXIST)
        throw Error(Errc::already_exists, fmt::format("{} exists; use --force to overwrite", path_.string()));
      if (err != EPERM && err != ENOTSUP && err != EOPNOTSUPP) throw_errno(err, path_, "linking the temporary file");
      // A file system without hard links: the path_exists() check above is the best we can do.
      if (::rename(temp_.c_str(), path_.c_str()) != 0) throw_errno(errno, path_, "renaming the temporary file");
    } else {
      ::unlink(temp_.c_str());
    }
  }
  temp_.clear();
  if (durability_ == Durability::now) sync_dir(parent_or_dot(path_));
}

void write_file_atomic(const fs::path& path, std::string_view bytes, unsigned mode, bool overwrite,
                       FileOwner owner, Durability durability) {
  StagedFile(path, bytes, mode, overwrite, owner, durability).publish();
}

void sync_file_system(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) throw_errno(errno, dir, "opening the folder to sync it");
  if (::syncfs(fd.get()) != 0) throw_errno(errno, dir, "syncing its file system");
}

std::optional<std::string> loose_permissions(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & 077) == 0) return std::nullopt;
  const bool dir = S_ISDIR(st.st_mode);
  return fmt::format("{} is {} by group or others (mode {:04o}); run chmod {} {}", path.string(),
                     dir ? "open" : "readable", st.st_mode & 07777, dir ? "700" : "600", path.string());
}

void move_path(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw Error(Errc::io, fmt::format("{}: cannot move it to {} ({}); check the CA folder's permissions",
                                      from.string(), to.string(), std::strerror(errno)));
}

void remove_file_durable(const fs::path& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return;
    throw_errno(errno, path, "removing");
  }
  sync_dir(parent_or_dot(path));
}

void ensure_dir(const fs::path& path, unsigned mode) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      throw Error(Errc::io, fmt::format("{}: exists and is not a folder; move it away or choose another --dir",
                                        path.string()));
    return;
  }
  const fs::path parent = path.parent_path();
  if (!parent.empty() && parent != path) ensure_dir(parent, mode_public_dir);
  if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0) {
    if (errno == EEXIST) return ensure_dir(path, mode);  // lost a race with another process: fine
    throw_errno(errno, path, "creating the folder");
  }
  set_mode(path, mode);
  sync_dir(parent_or_dot(path));
}

void set_owner(const fs::path& path, FileOwner owner) {
  if (::chown(path.c_str(), static_cast<uid_t>(owner.uid), static_cast<gid_t>(owner.gid)) != 0)
    throw_errno(errno, path, "setting the owner and group");
}

void set_mode(const fs::path& path, unsigned mode) {
  if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) throw_errno(errno, path, "setting the mode");
}

}  // namespace mqttpki::store
