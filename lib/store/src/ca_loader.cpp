#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/files.hpp>

#include <mqttpki/pki/util.hpp>

#include <fmt/format.h>

namespace mqttpki::store {

pki::Certificate load_ca_cert(const CaFolder& folder) {
  const auto& path = folder.layout().ca_cert;
  const std::string pem = read_file(path);
  auto cert = with_file(path, [&] { return pki::Certificate::load(pem); });
  if (!cert.is_ca())
    throw Error(Errc::policy, fmt::format("{}: not a CA certificate (no basicConstraints CA:TRUE); put the CA's "
                                          "certificate there or recreate the CA with `mqttpki init-ca --force`",
                                          path.string()));
  return cert;
}

bool ca_key_encrypted(const CaFolder& folder) {
  return pki::PrivateKey::is_encrypted(pki::as_bytes(read_file(folder.layout().ca_key)));
}

LoadedCa load_signing_ca(const CaFolder& folder, const std::optional<std::string_view>& passphrase) {
  auto cert = load_ca_cert(folder);
  const auto& key_path = folder.layout().ca_key;
  std::string pem = read_file(key_path);
  if (pki::PrivateKey::is_encrypted(pki::as_bytes(pem)) && !passphrase)
    throw Error(Errc::bad_passphrase,
                fmt::format("{}: the CA key is encrypted; give its passphrase with --passphrase-file FILE or the "
                            "MQTTPKI_PASSPHRASE environment variable",
                            key_path.string()));
  auto key = [&] {
    try {
      return pki::PrivateKey::load(pem, passphrase);
    } catch (const Error& e) {
      if (e.code() == Errc::bad_passphrase)
        throw Error(Errc::bad_passphrase,
                    fmt::format("{}: wrong passphrase for the CA key; check --passphrase-file or MQTTPKI_PASSPHRASE",
                                key_path.string()));
      throw Error(e.code(), key_path.string() + ": " + e.what());
    }
  }();
  pki::secure_erase(pem);
  if (!key.matches(cert))
    throw Error(Errc::mismatch, fmt::format("{} does not match {}; put the CA's own key there (or restore both from "
                                            "{}/backup)",
                                            key_path.string(), folder.layout().ca_cert.string(),
                                            folder.layout().dir.string()));
  return {std::move(cert), std::move(key)};
}

}  // namespace mqttpki::store
