#pragma once
// Loading the CA of a CA folder for signing: ca.crt, private/ca.key (with its passphrase), and the check that
// the key belongs to the certificate. Errors name the file and the fix.

#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/store/ca_folder.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace mqttpki::store {

struct LoadedCa {
  pki::Certificate cert;
  pki::PrivateKey key;
};

// The CA certificate alone (for export, list, verify).
[[nodiscard]] pki::Certificate load_ca_cert(const CaFolder& folder);

// Certificate and key. An encrypted key without a passphrase is Errc::bad_passphrase telling how to give
// one; a key that does not match ca.crt is Errc::mismatch.
[[nodiscard]] LoadedCa load_signing_ca(const CaFolder& folder, const std::optional<std::string_view>& passphrase);

// True when DIR/private/ca.key is encrypted (so the command knows to ask for a passphrase).
[[nodiscard]] bool ca_key_encrypted(const CaFolder& folder);

}  // namespace mqttpki::store
