#pragma once
// Renewal over the CA folder: what `mqttpki renew` does (revocation.hpp and crl.hpp hold `revoke` and `crl`), as library
// functions that take the clock (`now`) as a parameter so tests never wait for a certificate to expire.
//
// Every function that changes the records expects the caller to hold the folder lock (CaFolder::lock()) and,
// except write_crl(), to have a transaction of the index open (Index::begin()); after committing it, the caller
// writes the certificate files (CaFolder::write_certificate_files()). Issuing goes through the one issuance path
// (issuance.hpp).
//
//   DIR/crl.pem                   the current CRL (0644), written by write_crl()
//   DIR/archive/ca-<UTC>.crt      CA certificates replaced by renew_ca_certificate()

#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/crl.hpp>
#include <mqttpki/pki/csr.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/types.hpp>
#include <mqttpki/pki/verify.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/crl.hpp>  // renew --all re-issues the CRL
#include <mqttpki/store/index.hpp>
#include <mqttpki/store/passphrase.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::store {

// ---------------------------------------------------------------------------------------------------------
// The CA's certificate and private key.

// Whole days of a validity period as the issuing functions take them (pki::backdate removed, rounded to the
// nearest day, at least 1).
[[nodiscard]] int validity_days(TimePoint not_before, TimePoint not_after);

// ---------------------------------------------------------------------------------------------------------
// CA self-renewal: same key, subject and subjectKeyIdentifier, new serial and validity (pki::renew_ca), so
// certificates issued under the old CA certificate verify under the new one.

struct CaRenewOptions {
  std::optional<int> days;  // default: the old certificate's validity length
  TimePoint now = std::chrono::system_clock::now();
  pki::RandomSource random;
};

struct CaRenewResult {
  pki::Certificate old_cert;
  pki::Certificate new_cert;
  std::filesystem::path archived;  // where the old certificate was copied
  std::filesystem::path written;   // the replaced CA certificate file
};

// archive_dir/ca-<UTC time>.crt receives the old certificate first (never overwritten: -1, -2, ... appended),
// then ca.cert_path is replaced atomically by the new one. The caller holds the lock.
CaRenewResult renew_ca_certificate(const CaMaterial& ca, const std::filesystem::path& archive_dir,
                                   const CaRenewOptions& options);

[[nodiscard]] std::filesystem::path archive_dir(const CaLayout& layout);  // DIR/archive

// ---------------------------------------------------------------------------------------------------------
// Leaf renewal: the same public key, subject, SANs and profile under a new serial and validity; the index
// marks the old certificate superseded (it still verifies until it expires).

enum class RenewStatus { renewed, not_due, failed };
[[nodiscard]] std::string_view to_string(RenewStatus status) noexcept;  // "renewed", "not due", "failed"

struct LeafRenewOptions {
  TimePoint now = std::chrono::system_clock::now();
  std::optional<int> days;                     // default: the original's validity length
  std::optional<std::chrono::seconds> within;  // only renew what expires within this window
  pki::RandomSource random;
};

// One certificate's outcome: one line of `mqttpki renew` output.
struct RenewItem {
  std::string name;
  RenewStatus status = RenewStatus::failed;
  std::string old_serial;
  std::string new_serial;
  TimePoint old_not_after{};
  TimePoint new_not_after{};
  std::filesystem::path cert_path;    // the new certificate (DIR/issued/NAME.crt)
  std::string message;                // why not due, why failed
  std::vector<std::string> warnings;  // e.g. validity capped at the CA's expiry
};

// True when a certificate expiring at not_after must be renewed now: no window given, or not_after - now <= within.
[[nodiscard]] bool is_due(TimePoint not_after, TimePoint now, std::optional<std::chrono::seconds> within);

// Renews NAME's current certificate (the newest valid index entry, its bytes from the database). Never
// throws for a per-certificate problem: the item says failed and why (the database lacks its bytes, the CA
// expires before the certificate would gain anything, ...). Throws for folder-wide problems
// (CA expired: Errc::expired; I/O on the index).
// When the CA expires before the new validity would end, the validity is capped at the CA's notAfter with a
// warning. With a window (the cron mode), a renewal that the cap leaves no later than the old certificate
// fails instead, with the fix (`mqttpki renew --ca`): otherwise every run would re-issue it for nothing.
RenewItem renew_name(Index& index, const CaMaterial& ca, std::string_view name, const LeafRenewOptions& options);

// renew_name() for each of `names` (`renew --all`'s batch, inside one transaction), with the same items in the
// same order, except that a per-certificate error a lone renew_name() throws (a damaged certificate in the
// database) is a failed item here, with only its message; folder-wide errors still throw. The decoding and
// signing of the due ones run on every core; the index is read and written, and options.random called, on
// this thread only. Same as RenewalBatch(index, ca, names, options).finish(index).
std::vector<RenewItem> renew_names(Index& index, const CaMaterial& ca, std::span<const std::string> names,
                                   const LeafRenewOptions& options);

// renew_names() in two halves, so that a caller renewing batch after batch writes and commits the previous
// batch while this one signs: the constructor reads the index (what is due, the old certificates' bytes) and
// starts signing on hardware_concurrency() - 1 helper threads; finish() signs the rest on this thread, waits
// for the helpers and records every renewal, in order, inside the caller's transaction. `ca` must outlive the
// batch; destroying an unfinished batch stops and joins its helpers (nothing is recorded).
class RenewalBatch {
 public:
  RenewalBatch(const Index& index, const CaMaterial& ca, std::vector<std::string> names,
               const LeafRenewOptions& options);
  RenewalBatch(RenewalBatch&&) noexcept;
  RenewalBatch& operator=(RenewalBatch&&) = delete;
  ~RenewalBatch();
  std::vector<RenewItem> finish(Index& index);

 private:
  struct State;
  std::unique_ptr<State> state_;
  bool first_planned_ = false;
};

// Renews the certificate in a file. One this CA issued and indexed is renewed as its NAME. One issued by
// this CA outside mqttpki (e.g. with the openssl commands of the seed guide) is first added to the index
// (then marked superseded) under `name` (default: the file's stem, else its CN); `profile` is taken from
// its extendedKeyUsage (serverAuth -> server, else client) unless given, and `extra_sans` are added (a
// server certificate needs at least one SAN). Throws Errc::mismatch when the CA did not sign it.
struct ImportOptions {
  std::optional<std::string> name;
  std::optional<pki::Profile> profile;
  std::vector<pki::GeneralName> extra_sans;
  std::string source_label;  // the file's path, for messages
};
RenewItem renew_certificate(Index& index, const CaMaterial& ca, const pki::Certificate& cert,
                            const ImportOptions& import, const LeafRenewOptions& options);

// Re-key: signs a fresh CSR for an existing NAME (new key). Subject and SANs come from the CSR (the old
// SANs are kept when the CSR asks for none); the profile is NAME's. `within` is ignored. Throws for a bad
// CSR (Errc::verify_failed) or an unknown NAME (Errc::not_found).
RenewItem rekey_name(Index& index, const CaMaterial& ca, std::string_view name, const pki::Csr& csr,
                     const LeafRenewOptions& options);

using pki::signed_by;  // the certificate's signature verifies with the CA certificate's key


}  // namespace mqttpki::store
