#pragma once
// Loading the CA of a CA folder (the one loader every command that signs uses): ca.crt, private/ca.key (with its passphrase), and the check that
// the key belongs to the certificate. Errors name the file and the fix.

#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/ca.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/passphrase.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::store {

// The CA certificate alone (for export, list, verify).
[[nodiscard]] pki::Certificate load_ca_cert(const CaFolder& folder);

struct CaMaterial {
  pki::Certificate cert;
  pki::PrivateKey key;
  std::filesystem::path cert_path;  // for messages ("ca.crt expired ...") and MQTTPKI_CA

  // The CA ready to issue: a pki::Issuer for cert and key, labelled with cert_path, made on the first
  // issuance and reused by the next ones (`renew --all`), so its one-time CA checks run once per run.
  // Made lazily so that a CA that cannot issue still loads (`renew --ca` repairs such a CA); its
  // refusals (Errc::mismatch, Errc::policy) come from this call, as they came from pki::issue. Rebuilt if
  // cert, key or cert_path changed since. Not for concurrent use (renewals hold the folder lock).
  [[nodiscard]] const pki::Issuer& issuer() const;

  mutable std::shared_ptr<const pki::Issuer> issuer_cache;  // see issuer()
  // What the command should tell the user: the key file, its folder or the passphrase file open to group or
  // others (loose_permissions()).
  std::vector<std::string> warnings;
};

// Loads a CA certificate and key from files (the one way every command loads a CA to sign with); an encrypted
// key is decrypted with the passphrase from `passphrase` (file, MQTTPKI_PASSPHRASE, prompt). Errors name the
// file: Errc::bad_passphrase "FILE: the CA key is encrypted; give its passphrase with --passphrase-file FILE or
// ...", or "wrong passphrase"; Errc::mismatch when the key does not belong to the certificate.
[[nodiscard]] CaMaterial load_ca_files(const std::filesystem::path& cert_path, const std::filesystem::path& key_path,
                                       const PassphraseRequest& passphrase);
[[nodiscard]] CaMaterial load_ca(const CaFolder& folder, const PassphraseRequest& passphrase);

// Throws Errc::expired "CA certificate FILE expired on DATE; run `mqttpki renew --ca` (...)" when `now` is
// outside the CA certificate's validity, and Errc::policy when it is not a CA.
void check_ca_usable(const CaMaterial& ca, TimePoint now);

// A private key file (any key: the CA's, a device's), decrypted with the passphrase from `passphrase` when it is
// encrypted; `what` names it in errors: "FILE: WHAT is encrypted; give its passphrase with --passphrase-file FILE
// or the MQTTPKI_PASSPHRASE environment variable", "FILE: wrong passphrase for WHAT; ...". The one loader every
// command uses for keys; the file's bytes are wiped after use.
[[nodiscard]] pki::PrivateKey load_private_key_file(const std::filesystem::path& path,
                                                   const PassphraseRequest& passphrase, std::string_view what);

// True when DIR/private/ca.key is encrypted (so the command knows to ask for a passphrase).
[[nodiscard]] bool ca_key_encrypted(const CaFolder& folder);

}  // namespace mqttpki::store
