#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/error.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/files.hpp>

#include "migrate.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <cstdio>

namespace mqttpki::store {

namespace fs = std::filesystem;

CaLayout::CaLayout(fs::path root)
    : dir(std::move(root)),
      ca_cert(dir / "ca.crt"),
      private_dir(dir / "private"),
      ca_key(dir / "private" / "ca.key"),
      issued_dir(dir / "issued"),
      db(dir / "ca.db"),
      legacy_index(dir / "index.json"),
      legacy_journal(dir / "index.journal"),
      backup_dir(dir / "backup"),
      lock(dir / ".lock") {}

fs::path CaLayout::issued_cert(std::string_view name) const { return issued_dir / (std::string(name) + ".crt"); }

std::string CaLayout::issued_relative(std::string_view name) { return fmt::format("issued/{}.crt", name); }

bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64 || name.front() == '.' || name.front() == '-') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || c == '@';
    if (!ok) return false;
  }
  return true;
}

void validate_name(std::string_view name) {
  if (!is_valid_name(name))
    throw Error(Errc::invalid_argument,
                fmt::format("'{}' cannot be a certificate name (it becomes issued/NAME.crt); pass --name with "
                            "letters, digits, '.', '_', '-' or '@' (1-64 characters), e.g. --name sensor-1",
                            name));
}

bool CaFolder::has_ca(const fs::path& dir) {
  const CaLayout l(dir);
  return path_exists(l.ca_cert) || path_exists(l.ca_key);
}

CaFolder CaFolder::open(const fs::path& dir) {
  CaLayout l(dir);
  if (!path_exists(l.ca_cert) || !path_exists(l.ca_key)) {
    if (!has_ca(dir))
      throw Error(Errc::not_found, fmt::format("no CA in {}; create one with `mqttpki init-ca --cn NAME --dir {}`",
                                               dir.string(), dir.string()));
    const fs::path& missing = path_exists(l.ca_cert) ? l.ca_key : l.ca_cert;
    throw Error(Errc::not_found,
                fmt::format("{}: missing, the CA in {} is incomplete; restore it from {}/backup or recreate the CA "
                            "with `mqttpki init-ca --force`",
                            missing.string(), dir.string(), dir.string()));
  }
  return CaFolder(std::move(l));
}

FolderLock CaFolder::lock(std::chrono::milliseconds timeout) const {
  FolderLock held = FolderLock::acquire(layout_.lock, timeout);
  // Under the lock no other mqttpki process writes here: clear what a killed one left mid-write. Only then:
  // listing issued/ costs 20 ms in a fleet of 100,000.
  if (held.previous_holder_interrupted())
    for (const auto& dir : {layout_.dir, layout_.issued_dir, layout_.private_dir}) (void)remove_stale_temp_files(dir);
  return held;
}

std::string CaFolder::read_ca_cert() const { return read_file(layout_.ca_cert); }
std::string CaFolder::read_ca_key() const { return read_file(layout_.ca_key); }

std::string utc_stamp(std::chrono::system_clock::time_point now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

fs::path backup_folder_name(const fs::path& backup_dir, std::chrono::system_clock::time_point now) {
  const std::string stamp = utc_stamp(now);
  fs::path candidate = backup_dir / stamp;
  for (int i = 1; path_exists(candidate); ++i) candidate = backup_dir / fmt::format("{}-{}", stamp, i);
  return candidate;
}

namespace {

void move_into(const fs::path& from, const fs::path& to_dir) {
  if (path_exists(from)) move_path(from, to_dir / from.filename());
}

}  // namespace

CaFolder::Created CaFolder::create(const fs::path& dir, std::string_view ca_cert_pem, std::string_view ca_key_pem,
                                   bool replace, std::chrono::system_clock::time_point now,
                                   std::chrono::milliseconds lock_timeout) {
  CaLayout l(dir);
  if (has_ca(dir) && !replace)
    throw Error(Errc::already_exists,
                fmt::format("{} already holds a CA ({}); use --force to replace it (the old files move to {}/backup/)",
                            dir.string(), l.ca_cert.string(), dir.string()));
  ensure_dir(l.dir, mode_public_dir);
  FolderLock held = FolderLock::acquire(l.lock, lock_timeout);

  Created result{CaFolder(l), std::nullopt};
  if (has_ca(dir)) {  // checked again under the lock: another init-ca may have won the race
    if (!replace)
      throw Error(Errc::already_exists,
                  fmt::format("{} already holds a CA ({}); use --force to replace it", dir.string(),
                              l.ca_cert.string()));
    ensure_dir(l.backup_dir, mode_private_dir);
    const fs::path backup = backup_folder_name(l.backup_dir, now);
    ensure_dir(backup, mode_private_dir);  // holds the old private key
    // The certificate moves first: a kill part-way leaves a folder without ca.crt, which open() reports as
    // incomplete and the backup holds what was moved.
    move_into(l.ca_cert, backup);
    move_into(l.private_dir, backup);
    move_into(l.issued_dir, backup);
    for (const auto& f : {l.db, fs::path(l.db.string() + "-wal"), fs::path(l.db.string() + "-shm"),
                          l.legacy_index, l.legacy_journal})
      move_into(f, backup);
    sync_dir(backup);
    sync_dir(l.dir);
    result.backup = backup;
  }

  ensure_dir(l.private_dir, mode_private_dir);
  set_mode(l.private_dir, mode_private_dir);
  ensure_dir(l.issued_dir, mode_public_dir);
  // Key first, then the certificate: a CA is only usable (open() succeeds) once both exist. If a later step
  // fails, what this call wrote is removed again, so a failed init-ca never leaves half a CA behind.
  write_file_atomic(l.ca_key, ca_key_pem, mode_secret, /*overwrite=*/false);
  try {
    write_file_atomic(l.ca_cert, ca_cert_pem, mode_public, /*overwrite=*/false);
    try {
      for (const auto& stray : {l.legacy_index, l.legacy_journal}) remove_file_durable(stray);
      (void)Index::open(l.db, /*create=*/true);
    } catch (...) {
      std::remove(l.ca_cert.c_str());
      throw;
    }
  } catch (...) {
    std::remove(l.ca_key.c_str());
    throw;
  }
  return result;
}

Index CaFolder::open_index() const {
  if (!path_exists(layout_.db) && path_exists(layout_.legacy_index)) {
    const FolderLock held = lock();
    return open_index(held);
  }
  return Index::open(layout_.db, /*create=*/true);
}

Index CaFolder::open_index(const FolderLock& held) const {
  const auto now = std::chrono::system_clock::now();
  migrate_json_index(layout_, now);
  move_legacy_index(layout_, now);
  Index index = Index::open(layout_.db, /*create=*/true);
  write_certificate_files(index, held);
  return index;
}

void CaFolder::write_certificate_files(Index& index, const FolderLock& held) const {
  auto staged = stage_certificate_files(index, held);
  publish_certificate_files(index, staged);
}

CaFolder::StagedCertificates CaFolder::stage_certificate_files(const Index& index, const FolderLock& /*held*/) const {
  StagedCertificates out;
  out.files = index.files_to_write();
  if (out.files.empty()) return out;
  ensure_dir(layout_.issued_dir, mode_public_dir);
  out.staged.reserve(out.files.size());
  // Written without a sync each, then synced together (renew --all stages up to a batch of them).
  for (const auto& f : out.files)
    out.staged.emplace_back(layout_.dir / f.file, pki::certificate_pem(pki::as_bytes(f.der)), mode_public,
                            /*overwrite=*/true, FileOwner{}, Durability::later);
  sync_file_system(layout_.issued_dir);
  return out;
}

void CaFolder::publish_certificate_files(Index& index, StagedCertificates& staged) const {
  if (staged.files.empty()) return;
  for (auto& f : staged.staged) f.publish();
  try {
    sync_dir(layout_.issued_dir);
    index.files_written(staged.files);
  } catch (const Error&) {
    // Still queued: the next writer writes the same bytes again (open_index(held)).
  }
}

}  // namespace mqttpki::store
