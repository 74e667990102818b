#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/password_hash.hpp>

#include "kdf_limits.hpp"
#include "ossl.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <charconv>

namespace mqttpki::pki {
namespace {

constexpr std::size_t kHashSize = 64;  // SHA-512

[[noreturn]] void bad(const std::string& what) {
  throw Error(Errc::bad_format, "password hash " + what + "; write it again with mosquitto_passwd");
}

Bytes base64_decode(std::string_view text, const char* field) {
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
  const bool alphabet_ok = text.find_first_not_of(alphabet) == std::string_view::npos;
  if (text.empty() || text.size() % 4 != 0 || !alphabet_ok) bad(std::string("has a malformed base64 ") + field);
  Bytes out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) bad(std::string("has a malformed base64 ") + field);
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

Bytes derive(const PasswordHash& h, ByteView password) {
  Bytes out(kHashSize);
  if (h.kind == PasswordHash::Kind::pbkdf2_sha512) {
    ossl::check(PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password.data()), static_cast<int>(password.size()),
                                    h.salt.data(), static_cast<int>(h.salt.size()), static_cast<int>(h.iterations),
                                    EVP_sha512(), static_cast<int>(out.size()), out.data()) == 1,
                  "PKCS5_PBKDF2_HMAC");
    return out;
  }
  ossl::EvpMdCtxPtr ctx(ossl::check_ptr(EVP_MD_CTX_new(), "EVP_MD_CTX_new"));
  unsigned len = 0;
  ossl::check(EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr) == 1 &&
                    EVP_DigestUpdate(ctx.get(), password.data(), password.size()) == 1 &&
                    EVP_DigestUpdate(ctx.get(), h.salt.data(), h.salt.size()) == 1 &&
                    EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1,
                "SHA-512");
  return out;
}

std::string base64_encode(ByteView bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

PasswordHash parse_password_hash(std::string_view text) {
  PasswordHash h;
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto d = text.find('$', start);
    parts.push_back(text.substr(start, d == std::string_view::npos ? std::string_view::npos : d - start));
    if (d == std::string_view::npos) break;
    start = d + 1;
  }
  if (parts.size() == 4 && parts[0].empty() && parts[1] == "6") {
    h.kind = PasswordHash::Kind::sha512;
  } else if (parts.size() == 5 && parts[0].empty() && parts[1] == "7") {
    h.kind = PasswordHash::Kind::pbkdf2_sha512;
    const auto it = parts[2];
    auto [p, ec] = std::from_chars(it.data(), it.data() + it.size(), h.iterations);
    if (ec != std::errc{} || p != it.data() + it.size() || h.iterations == 0 ||
        h.iterations > detail::kMaxPbkdf2Iterations)
      bad("has an iteration count that is not a number from 1 to 10,000,000");
    parts.erase(parts.begin() + 2);
  } else {
    bad("is neither $7$ITERATIONS$SALT$HASH nor $6$SALT$HASH (a plain-text password file needs "
        "'mosquitto_passwd -U FILE' first)");
  }
  h.salt = base64_decode(parts[2], "salt");
  h.hash = base64_decode(parts[3], "hash");
  if (h.hash.size() != kHashSize) bad("is not 64 bytes (SHA-512)");
  return h;
}

bool password_matches(const PasswordHash& stored, ByteView password) {
  const Bytes derived = derive(stored, password);
  return stored.hash.size() == derived.size() && CRYPTO_memcmp(derived.data(), stored.hash.data(), derived.size()) == 0;
}

std::string make_password_hash(ByteView password, ByteView salt, unsigned iterations) {
  PasswordHash h;
  h.iterations = iterations;
  h.salt.assign(salt.begin(), salt.end());
  return "$7$" + std::to_string(iterations) + "$" + base64_encode(salt) + "$" + base64_encode(derive(h, password));
}

}  // namespace mqttpki::pki
