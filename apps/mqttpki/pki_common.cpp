#include "pki_common.hpp"

#include <mqttpki/pki/text.hpp>

#include <mqttpki/error.hpp>
#include <mqttpki/pki/types.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/files.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <ostream>

namespace mqttpki::cli::pki_common {

void add_passphrase_file_option(CLI::App& app, std::string& file, std::string_view what) {
  app.add_option("--passphrase-file", file,
                 fmt::format("Read the passphrase {} from the first line of FILE (else $MQTTPKI_PASSPHRASE, else a "
                             "prompt on a terminal)",
                             what))
      ->type_name("FILE");
}

std::optional<store::Secret> passphrase_for_reading(const std::string& file, std::string_view prompt) {
  store::PassphraseRequest request;
  if (!file.empty()) request.file = file;
  request.prompt = std::string(prompt);
  return store::read_passphrase(request);
}

std::optional<std::string_view> view(const std::optional<store::Secret>& secret) {
  if (!secret) return std::nullopt;
  return std::string_view(secret->view());
}

namespace {

// "FILE: expected a certificate ..., found a private key": the pki message with the file in front, and an
// empty file said plainly.
std::string read_nonempty(const std::filesystem::path& path, std::string_view expected) {
  std::string data = store::read_file(path);
  if (data.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Error(Errc::bad_format, fmt::format("{}: empty file; expected {} in PEM or DER", path.string(), expected));
  return data;
}

}  // namespace

pki::Certificate load_certificate(const std::filesystem::path& path) {
  const std::string data = read_nonempty(path, "a certificate");
  return store::with_file(path, [&] { return pki::Certificate::load(data); });
}

pki::Csr load_csr(const std::filesystem::path& path) {
  const std::string data = read_nonempty(path, "a certificate request (CSR)");
  if (data.size() > pki::max_csr_bytes)
    throw Error(Errc::policy, fmt::format("{}: {} bytes, more than the {} a certificate request may have; make a CSR "
                                          "with only the names clients use",
                                          path.string(), data.size(), pki::max_csr_bytes));
  return store::with_file(path, [&] { return pki::Csr::load(data); });
}

void warn_loose_key(Context& ctx, std::string_view command, const std::filesystem::path& path) {
  if (const auto w = store::loose_permissions(path)) warn(ctx, command, *w);
}

pki::PrivateKey load_private_key(Context& ctx, std::string_view command, const std::filesystem::path& path,
                                 const std::string& passphrase_file) {
  warn_loose_key(ctx, command, path);
  store::PassphraseRequest request;
  if (!passphrase_file.empty()) request.file = passphrase_file;
  request.prompt = fmt::format("Passphrase for {}: ", path.string());
  return store::load_private_key_file(path, request, "the key");
}

std::chrono::seconds duration_option(std::string_view flag, const std::string& text) {
  try {
    return pki::parse_duration(text);
  } catch (const Error& e) {
    throw Error(Errc::invalid_argument, fmt::format("{} '{}': {}", flag, text, e.what()));
  }
}

pki::KeyType new_key_type(std::string_view text) {
  pki::KeyType type{};
  try {
    type = pki::parse_key_type(text);
  } catch (const Error&) {
    type = pki::KeyType::rsa;  // reported below with the one message
  }
  if (type == pki::KeyType::rsa)
    throw Error(Errc::invalid_argument,
                fmt::format("--key-type '{}': not a key type mqttpki generates; use p256 (default), p384 or ed25519",
                            text));
  return type;
}

pki::Name subject_from_flags(const std::string& cn, const std::string& org, const std::string& country) {
  try {
    return pki::Name::build(cn, org, country);
  } catch (const Error& e) {
    throw Error(Errc::invalid_argument, fmt::format("--cn/--org/--country: {}", e.what()));
  }
}

std::vector<pki::GeneralName> parse_sans(const std::vector<std::string>& values) {
  std::vector<pki::GeneralName> out;
  for (const auto& v : values) {
    try {
      auto san = pki::parse_san(v);
      if (std::find(out.begin(), out.end(), san) == out.end()) out.push_back(std::move(san));
    } catch (const Error& e) {
      throw Error(Errc::invalid_argument, fmt::format("--san '{}': {}", v, e.what()));
    }
  }
  return out;
}

void throw_unrecognised(const std::filesystem::path& path, std::string_view data, std::string_view expected) {
  const auto kind = pki::detect_kind(pki::as_bytes(data));
  if (kind != pki::ObjectKind::unknown && kind != pki::ObjectKind::empty)
    throw Error(Errc::bad_format, fmt::format("{}: holds {}, not {}; give the right file", path.string(),
                                              pki::describe_kind(kind), expected));
  if (data.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw Error(Errc::bad_format, fmt::format("{}: empty file; expected {} in PEM or DER", path.string(), expected));
  if (data.find("-----BEGIN ") != std::string_view::npos)
    throw Error(Errc::bad_format,
                fmt::format("{}: truncated or damaged PEM; copy the whole file again, from -----BEGIN to -----END",
                            path.string()));
  throw Error(Errc::bad_format,
              fmt::format("{}: not {} in PEM or DER; check the file is complete and of the right kind", path.string(),
                          expected));
}

void check_output_free(const std::filesystem::path& path, bool force) {
  if (!force && store::path_exists(path))
    throw Error(Errc::already_exists, fmt::format("{} exists; use --force to overwrite", path.string()));
}

void warn(Context& ctx, std::string_view command, std::string_view text) {
  ctx.err << fmt::format("mqttpki {}: warning: {}\n", command, text);
}

}  // namespace mqttpki::cli::pki_common
