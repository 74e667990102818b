#pragma once
// The CA folder on disk (DIR: --dir, else $MQTTPKI_DIR, else ./pki):
//
//   DIR/ca.crt                  the CA certificate (0644)
//   DIR/private/ca.key          the CA private key, PKCS#8 PEM, encrypted when a passphrase was given (0600;
//                               private/ is 0700)
//   DIR/issued/NAME.crt         issued certificates (0644)
//   DIR/ca.db                   the CA's records (SQLite, see index.hpp): every certificate issued with its
//                               bytes, status, serials, CRL number (0644; ca.db-wal and ca.db-shm beside it)
//   DIR/backup/<UTC time>/      what `init-ca --force` replaced (0700)
//   DIR/.lock                   flock'ed for the whole of a mutating command
//
// A seed-style CA made with the openssl CLI can be used by putting its files in this layout:
//   mkdir -p DIR/private && chmod 700 DIR/private && cp ca.crt DIR/ && cp ca.key DIR/private/ca.key
// (SEC1 "EC PRIVATE KEY" files are accepted as they are); the index starts empty. `openssl req -x509` with
// the default config writes a CA without keyUsage, which strict X.509 refuses: `mqttpki renew --ca` re-issues
// it with the same key, subject and key identifier (sign says so when it meets one).

#include <mqttpki/store/files.hpp>
#include <mqttpki/store/index.hpp>
#include <mqttpki/store/lock.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::store {

struct CaLayout {
  explicit CaLayout(std::filesystem::path root);
  std::filesystem::path dir;
  std::filesystem::path ca_cert;
  std::filesystem::path private_dir;
  std::filesystem::path ca_key;
  std::filesystem::path issued_dir;
  std::filesystem::path db;
  std::filesystem::path legacy_index;    // index.json of mqttpki 0.1: migrated to db on first use
  std::filesystem::path legacy_journal;  // index.journal of mqttpki 0.1
  std::filesystem::path backup_dir;
  std::filesystem::path lock;

  [[nodiscard]] std::filesystem::path issued_cert(std::string_view name) const;
  // "issued/NAME.crt": the form recorded in the index.
  [[nodiscard]] static std::string issued_relative(std::string_view name);
};

// NAME becomes a file name (DIR/issued/NAME.crt): letters, digits, '.', '_', '-', '@', 1-64 characters, not
// starting with '.' or '-'. Throws Errc::invalid_argument naming the fix (--name).
void validate_name(std::string_view name);
[[nodiscard]] bool is_valid_name(std::string_view name) noexcept;

class CaFolder {
 public:
  // True when DIR holds a CA (ca.crt or private/ca.key; a half-made CA counts, so it is never overwritten
  // silently).
  [[nodiscard]] static bool has_ca(const std::filesystem::path& dir);

  // Errc::not_found "no CA in DIR; create one with `mqttpki init-ca --cn NAME --dir DIR`".
  [[nodiscard]] static CaFolder open(const std::filesystem::path& dir);

  // Installs a new CA: creates DIR, private/ (0700), issued/, writes private/ca.key (0600) then ca.crt and an
  // empty ca.db. If a CA exists: Errc::already_exists (nothing touched) unless replace, in which case the old
  // ca.crt, private/, issued/, ca.db (and 0.1's index files) move to DIR/backup/<UTC time>/ first. Takes the
  // folder lock itself.
  // Returns the backup folder when one was made.
  struct Created;
  [[nodiscard]] static Created create(const std::filesystem::path& dir, std::string_view ca_cert_pem,
                                      std::string_view ca_key_pem, bool replace,
                                      std::chrono::system_clock::time_point now,
                                      std::chrono::milliseconds lock_timeout = default_lock_timeout);

  [[nodiscard]] const CaLayout& layout() const noexcept { return layout_; }

  // The folder lock; hold it across read-index .. save-index of a mutating command.
  [[nodiscard]] FolderLock lock(std::chrono::milliseconds timeout = default_lock_timeout) const;

  [[nodiscard]] std::string read_ca_cert() const;
  [[nodiscard]] std::string read_ca_key() const;
  // The CA's records for reading, without the lock (WAL: never blocked by a writer). A folder made by mqttpki 0.1
  // is migrated first (taking the lock for that); a folder without records (a CA made elsewhere and put in this
  // layout) gets an empty database.
  [[nodiscard]] Index open_index() const;
  // The same for a writer that holds the lock (`held`, from lock()): also writes the certificate files an
  // interrupted command committed but did not write (write_certificate_files), so nothing is left to repair.
  [[nodiscard]] Index open_index(const FolderLock& held) const;

  // Under the lock, after a commit: writes DIR/issued/NAME.crt (atomic) for every certificate the index lists
  // in files_to_write, from the bytes in the database, and forgets them. The order that keeps the folder
  // consistent through a kill at any point: 1. one transaction records the certificate, its bytes and the
  // file to write; 2. the file is written; 3. it is forgotten. A kill before 1 completes leaves nothing; after
  // it, the next writer writes the file (open_index(held)). A file is never on disk without its record.
  // Same as publish_certificate_files(index, stage_certificate_files(index, held)).
  void write_certificate_files(Index& index, const FolderLock& held) const;

  // The disk-full-safe split of write_certificate_files for a command that issues: inside its transaction,
  // before the commit, stage the queued files (temp files, synced), so a full disk fails while the transaction
  // can still roll back with nothing recorded; after the commit, publish them (renames, no new blocks) and
  // forget them. Forgetting is best effort: a failure leaves them queued and the next writer writes the same
  // bytes again, so the command that issued never reports a failure for a certificate it issued.
  struct StagedCertificates {
    std::vector<FileToWrite> files;
    std::vector<StagedFile> staged;
  };
  [[nodiscard]] StagedCertificates stage_certificate_files(const Index& index, const FolderLock& held) const;
  void publish_certificate_files(Index& index, StagedCertificates& staged) const;

 private:
  explicit CaFolder(CaLayout layout) : layout_(std::move(layout)) {}
  CaLayout layout_;
};

struct CaFolder::Created {
  CaFolder folder;
  std::optional<std::filesystem::path> backup;
};

// "20261127T164406Z": the UTC time as backup and archive names carry it.
[[nodiscard]] std::string utc_stamp(std::chrono::system_clock::time_point now);

// Where init-ca --force moves the old CA: DIR/backup/20261127T164406Z (with -1, -2, ... if taken).
[[nodiscard]] std::filesystem::path backup_folder_name(const std::filesystem::path& backup_dir,
                                                       std::chrono::system_clock::time_point now);

}  // namespace mqttpki::store
