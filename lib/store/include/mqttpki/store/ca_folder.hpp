#pragma once
// The CA folder on disk (DIR: --dir, else $MQTTPKI_DIR, else ./pki):
//
//   DIR/ca.crt                  the CA certificate (0644)
//   DIR/private/ca.key          the CA private key, PKCS#8 PEM, encrypted when a passphrase was given (0600;
//                               private/ is 0700)
//   DIR/issued/NAME.crt         issued certificates (0644)
//   DIR/index.json              the issued-certificate index (see index.hpp): serials, status, CRL number
//   DIR/index.journal           changes to the index not yet in index.json (see index.hpp; JSON Lines, 0644):
//                               present only while a mutating command runs, or after one was killed
//   DIR/backup/<UTC time>/      what `init-ca --force` replaced (0700)
//   DIR/.lock                   flock'ed for the whole of a mutating command
//
// A seed-style CA made with the openssl CLI can be used by putting its files in this layout:
//   mkdir -p DIR/private && chmod 700 DIR/private && cp ca.crt DIR/ && cp ca.key DIR/private/ca.key
// (SEC1 "EC PRIVATE KEY" files are accepted as they are); the index starts empty. `openssl req -x509` with
// the default config writes a CA without keyUsage, which strict X.509 refuses: `mqttpki renew --ca` re-issues
// it with the same key, subject and key identifier (sign says so when it meets one).

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
  std::filesystem::path index;
  std::filesystem::path journal;
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
  // empty index. If a CA exists: Errc::already_exists (nothing touched) unless replace, in which case the old
  // ca.crt, private/, issued/, index.json, index.journal move to DIR/backup/<UTC time>/ first. Takes the folder
  // lock itself.
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
  // index.json with index.journal applied (Index::load): what every command reads, with or without the lock.
  [[nodiscard]] Index load_index() const { return Index::load(layout_.index, layout_.journal); }

  // Under the lock: appends the index's pending changes to index.journal as one record (one write, fsync'd),
  // so they survive a crash from here on. Nothing pending: nothing written.
  void commit(Index& index) const;
  // Under the lock: the compaction. Writes the whole index to index.json (atomic), then removes index.journal;
  // a crash between the two leaves a journal whose records index.json already holds, which load() applies
  // again without effect. Costs a rewrite of the index (~0.1 s for 10,000 entries).
  void save_index(Index& index) const;
  // save_index() when there is anything to compact (a journal on disk or pending changes), else nothing. A
  // mutating command calls it once at its end, so that after a command that ran to completion index.json is
  // the whole index and index.journal does not exist.
  void compact(Index& index) const;
  // Journal records after which record_issued() compacts on its own, so a long run (renew --all over a large
  // fleet) keeps the journal, and what readers replay, small.
  static constexpr std::size_t journal_compact_records = 1000;

  // Records a newly issued certificate, under the lock the caller holds. Crash-safety order:
  //   1. index.journal gains one record (one write, fsync'd) holding the new entry and, in the same record,
  //      `supersede` marked superseded by it (and any other pending change of `index`, e.g. an adopted
  //      certificate's entry): the index is the journal, so every certificate that ever reaches disk is listed
  //      and its serial can never be reused;
  //   2. issued/NAME.crt (atomic) is written, replacing an older file of that name.
  // A kill before step 1 completes leaves at most a torn last journal line, which load() ignores (no
  // certificate was written for it) and the next append cuts off. A kill between 1 and 2 leaves an index
  // entry whose file is missing, which `list` still shows and a re-run with --force supersedes; nothing is
  // ever half written. A kill inside an atomic write can leave its hidden temp file (".NAME.crt.tmp.PID.N.X",
  // ".index.json.tmp.PID.N.X" of a compaction), which the next lock() removes. index.json is rewritten only
  // by compactions (every journal_compact_records records, and compact() at the end of the command).
  // If step 2 fails, the entry is taken out of the index again (a journal record dropping it and restoring
  // the superseded entries; best effort) and the error is rethrown.
  void record_issued(Index& index, IndexEntry entry, std::string_view cert_pem,
                     const std::vector<std::string>& supersede = {}) const;

 private:
  explicit CaFolder(CaLayout layout) : layout_(std::move(layout)) {}
  CaLayout layout_;
};

struct CaFolder::Created {
  CaFolder folder;
  std::optional<std::filesystem::path> backup;
};

// Where init-ca --force moves the old CA: DIR/backup/20261127T164406Z (with -1, -2, ... if taken).
[[nodiscard]] std::filesystem::path backup_folder_name(const std::filesystem::path& backup_dir,
                                                       std::chrono::system_clock::time_point now);

}  // namespace mqttpki::store
