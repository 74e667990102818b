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

pki::PrivateKey load_private_key_file(const std::filesystem::path& path, const PassphraseRequest& passphrase,
                                      std::string_view what) {
  std::string pem = read_file(path);
  if (pem.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Error(Errc::bad_format, fmt::format("{}: empty file; expected a private key in PEM or DER", path.string()));
  std::optional<Secret> secret;
  if (pki::PrivateKey::is_encrypted(pki::as_bytes(pem))) {
    secret = read_passphrase(passphrase);
    if (!secret)
      throw Error(Errc::bad_passphrase,
                  fmt::format("{}: {} is encrypted; give its passphrase with --passphrase-file FILE or the "
                              "MQTTPKI_PASSPHRASE environment variable",
                              path.string(), what));
  }
  try {
    auto key = secret ? pki::PrivateKey::load(pem, std::string_view(secret->view())) : pki::PrivateKey::load(pem);
    pki::secure_erase(pem);
    return key;
  } catch (const Error& e) {
    pki::secure_erase(pem);
    if (e.code() == Errc::bad_passphrase && secret)
      throw Error(Errc::bad_passphrase, fmt::format("{}: wrong passphrase for {}; check --passphrase-file or "
                                                    "MQTTPKI_PASSPHRASE",
                                                    path.string(), what));
    throw Error(e.code(), path.string() + ": " + e.what());
  }
}

CaMaterial load_ca_files(const std::filesystem::path& cert_path, const std::filesystem::path& key_path,
                         const PassphraseRequest& passphrase) {
  const std::string cert_text = read_file(cert_path);
  auto cert = with_file(cert_path, [&] { return pki::Certificate::load(cert_text); });
  auto key = load_private_key_file(key_path, passphrase, "the CA key");
  if (!key.matches(cert))
    throw Error(Errc::mismatch, fmt::format("{} does not match the CA certificate {}; put the CA's own key there (or "
                                            "restore both from the CA folder's backup/)",
                                            key_path.string(), cert_path.string()));
  CaMaterial ca{std::move(cert), std::move(key), cert_path, {}, {}};
  for (const auto& path : {key_path, passphrase.file.value_or(std::filesystem::path())})
    if (!path.empty())
      if (auto warning = loose_permissions(path)) ca.warnings.push_back(*warning);
  return ca;
}

CaMaterial load_ca(const CaFolder& folder, const PassphraseRequest& passphrase) {
  CaMaterial ca = load_ca_files(folder.layout().ca_cert, folder.layout().ca_key, passphrase);
  if (auto warning = loose_permissions(folder.layout().private_dir)) ca.warnings.push_back(*warning);
  return ca;
}

const pki::Issuer& CaMaterial::issuer() const {
  const std::string label = cert_path.string();
  if (!issuer_cache || !(issuer_cache->ca_certificate() == cert) || issuer_cache->ca_label() != label ||
      !key.matches(issuer_cache->ca_certificate())) {
    issuer_cache = std::make_shared<const pki::Issuer>(cert, key, label);
  }
  return *issuer_cache;
}

void check_ca_usable(const CaMaterial& ca, TimePoint now) {
  if (!ca.cert.is_ca())
    throw Error(Errc::policy, fmt::format("{} is not a CA certificate (no basicConstraints CA:TRUE)", ca.cert_path.string()));
  if (now > ca.cert.not_after())
    throw Error(Errc::expired,
                fmt::format("CA certificate {} expired on {}; run `mqttpki renew --ca` (same key, so issued "
                            "certificates verify again), copy the new ca.crt to every client and the broker, then retry",
                            ca.cert_path.string(), pki::format_date(ca.cert.not_after())));
  if (now < ca.cert.not_before())
    throw Error(Errc::expired, fmt::format("CA certificate {} is not valid before {}; check this machine's clock",
                                           ca.cert_path.string(), pki::format_time(ca.cert.not_before())));
}

}  // namespace mqttpki::store
