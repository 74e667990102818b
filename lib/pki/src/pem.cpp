#include "pem.hpp"

#include "ossl.hpp"

#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace mqttpki::pki::pem {

namespace {

constexpr std::string_view begin_marker = "-----BEGIN ";
constexpr std::string_view dashes = "-----";

std::string_view as_text(ByteView data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

// 0-63 for a base64 character, -1 for anything else ('=' included).
constexpr std::array<std::int8_t, 256> base64_values = [] {
  std::array<std::int8_t, 256> v{};
  v.fill(-1);
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < alphabet.size(); ++i) v[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return v;
}();

// The block exactly as PEM writers (PEM_write_bio, pem::encode) lay it out, decoded without OpenSSL's BIO
// and EVP_ENCODE_CTX: the BEGIN line, lines of exactly 64 base64 characters and a last one of 1 to 64,
// each ending in "\n" or "\r\n", no header lines, '=' padding only at the very end, then the END line
// (which read_blocks has found). False for anything else, which then goes through PEM_read_bio as before,
// with its checks and messages; for what this accepts, PEM_read_bio gives the same bytes (unit tests
// compare the two for many sizes and damaged variants).
bool decode_plain_block(std::string_view text, std::string_view label, Bytes& der) {
  const std::size_t begin_len = begin_marker.size() + label.size() + dashes.size();
  std::size_t pos = begin_len;
  auto end_of_line = [&text](std::size_t at) -> std::size_t {  // past the line break at `at`, or npos
    if (at < text.size() && text[at] == '\n') return at + 1;
    if (at + 1 < text.size() && text[at] == '\r' && text[at + 1] == '\n') return at + 2;
    return std::string_view::npos;
  };
  pos = end_of_line(pos);
  if (pos == std::string_view::npos) return false;
  const std::string_view end_marker = "-----END ";
  Bytes out;
  out.reserve((text.size() - pos) / 4 * 3);
  std::uint32_t acc = 0;
  int quad = 0;     // characters in the current group of 4
  int padding = 0;  // '=' seen (only in the last group of the last line)
  std::int8_t last_value = 0;  // of the last character before any padding
  bool last_line_seen = false;
  while (text.compare(pos, end_marker.size(), end_marker) != 0) {
    if (last_line_seen) return false;  // a line shorter than 64 characters, then more lines
    std::size_t len = 0;
    while (pos + len < text.size() && text[pos + len] != '\n' && text[pos + len] != '\r') ++len;
    if (len == 0 || len > 64) return false;
    if (len < 64) last_line_seen = true;
    for (std::size_t i = 0; i < len; ++i) {
      const char c = text[pos + i];
      if (padding > 0 && c != '=') return false;
      if (c == '=') {
        ++padding;
        if (padding > 2 || quad < 2) return false;
        acc <<= 6;
      } else {
        const std::int8_t v = base64_values[static_cast<unsigned char>(c)];
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        last_value = v;
      }
      if (++quad == 4) {
        out.push_back(static_cast<std::uint8_t>(acc >> 16));
        if (padding < 2) out.push_back(static_cast<std::uint8_t>(acc >> 8));
        if (padding < 1) out.push_back(static_cast<std::uint8_t>(acc));
        acc = 0;
        quad = 0;
      }
    }
    pos = end_of_line(pos + len);
    if (pos == std::string_view::npos) return false;
    if (padding > 0) last_line_seen = true;  // '=' ends the data
  }
  if (quad != 0 || out.empty()) return false;
  // Only the END line read_blocks found may follow (block texts end with it and a "\n").
  if (text.size() - pos != end_marker.size() + label.size() + dashes.size() + 1) return false;
  // Padding must be canonical: the bits it leaves over are zero (refuse to guess what OpenSSL makes of
  // others: it decides).
  if ((padding == 1 && (last_value & 0x03) != 0) || (padding == 2 && (last_value & 0x0f) != 0)) return false;
  der = std::move(out);
  return true;
}

// Parse one block's text with OpenSSL's PEM reader (header and base64 handling).
Block decode_block(std::string label, std::string text, bool openssl_only) {
  if (Bytes der; !openssl_only && decode_plain_block(text, label, der)) {
    Block block;
    block.label = std::move(label);
    block.text = std::move(text);
    block.der = std::move(der);
    return block;
  }
  ossl::BioPtr bio(ossl::check_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())),
                                   "BIO_new_mem_buf"));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
    std::string detail = ossl::drain_errors();
    throw Error(Errc::bad_format, "truncated or damaged PEM ('" + label + "' block does not decode" +
                                      (detail.empty() ? "" : ": " + detail) + ")");
  }
  Block block;
  block.label = std::move(label);
  block.text = std::move(text);
  block.der.assign(data, data + len);
  block.encrypted = header != nullptr && std::string_view(header).find("ENCRYPTED") != std::string_view::npos;
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  return block;
}

}  // namespace

std::string encode(std::string_view label, ByteView der) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  constexpr std::size_t line_bytes = 48;  // 64 characters
  const std::size_t chars = (der.size() + 2) / 3 * 4;
  std::string out;
  out.reserve(2 * (label.size() + 16) + chars + chars / 64 + 2);
  out.append("-----BEGIN ").append(label).append("-----\n");
  for (std::size_t line = 0; line < der.size(); line += line_bytes) {
    const std::size_t line_end = std::min(der.size(), line + line_bytes);
    for (std::size_t i = line; i < line_end; i += 3) {
      const std::size_t n = std::min<std::size_t>(3, line_end - i);
      const std::uint32_t v = (std::uint32_t{der[i]} << 16) | (n > 1 ? std::uint32_t{der[i + 1]} << 8 : 0) |
                              (n > 2 ? std::uint32_t{der[i + 2]} : 0);
      out += alphabet[(v >> 18) & 0x3f];
      out += alphabet[(v >> 12) & 0x3f];
      out += n > 1 ? alphabet[(v >> 6) & 0x3f] : '=';
      out += n > 2 ? alphabet[v & 0x3f] : '=';
    }
    out += '\n';
  }
  out.append("-----END ").append(label).append("-----\n");
  return out;
}

bool looks_like_pem(ByteView data) { return as_text(data).find(begin_marker) != std::string_view::npos; }

bool is_blank(ByteView data) {
  return std::all_of(data.begin(), data.end(),
                     [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::vector<Block> read_blocks(ByteView data, bool openssl_only) {
  std::string_view text = as_text(data);
  std::vector<Block> blocks;
  std::size_t pos = 0;
  while ((pos = text.find(begin_marker, pos)) != std::string_view::npos) {
    std::size_t label_start = pos + begin_marker.size();
    std::size_t label_end = text.find(dashes, label_start);
    std::size_t line_end = text.find('\n', label_start);
    if (label_end == std::string_view::npos || (line_end != std::string_view::npos && label_end > line_end)) {
      throw Error(Errc::bad_format, "truncated or damaged PEM (bad BEGIN line)");
    }
    std::string label(text.substr(label_start, label_end - label_start));
    std::string end_line = "-----END " + label + "-----";
    std::size_t end = text.find(end_line, label_end);
    std::size_t next_begin = text.find(begin_marker, label_end);
    if (end == std::string_view::npos || (next_begin != std::string_view::npos && next_begin < end)) {
      throw Error(Errc::bad_format, "truncated or damaged PEM (no END line for '" + label + "')");
    }
    std::size_t block_end = end + end_line.size();
    std::string block_text(text.substr(pos, block_end - pos));
    block_text += '\n';
    blocks.push_back(decode_block(std::move(label), std::move(block_text), openssl_only));
    pos = block_end;
  }
  if (blocks.empty()) throw Error(Errc::bad_format, "truncated or damaged PEM (no BEGIN line)");
  return blocks;
}

ObjectKind kind_of_label(std::string_view label, bool encrypted) {
  if (label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE") {
    return ObjectKind::certificate;
  }
  if (label == "CERTIFICATE REQUEST" || label == "NEW CERTIFICATE REQUEST") return ObjectKind::certificate_request;
  if (label == "ENCRYPTED PRIVATE KEY") return ObjectKind::encrypted_private_key;
  if (label == "PRIVATE KEY" || label == "EC PRIVATE KEY" || label == "RSA PRIVATE KEY" ||
      label == "DSA PRIVATE KEY" || label == "ANY PRIVATE KEY") {
    return encrypted ? ObjectKind::encrypted_private_key : ObjectKind::private_key;
  }
  if (label == "PUBLIC KEY" || label == "RSA PUBLIC KEY") return ObjectKind::public_key;
  if (label == "X509 CRL") return ObjectKind::crl;
  return ObjectKind::unknown;
}

ObjectKind classify_der(ByteView der) {
  if (der.empty()) return ObjectKind::empty;
  const long len = static_cast<long>(der.size());
  auto consumed_all = [&](const unsigned char* p) { return p == der.data() + der.size(); };
  ObjectKind kind = ObjectKind::unknown;
  {
    const unsigned char* p = der.data();
    if (ossl::X509Ptr x(d2i_X509(nullptr, &p, len)); x && consumed_all(p)) kind = ObjectKind::certificate;
  }
  if (kind == ObjectKind::unknown) {
    const unsigned char* p = der.data();
    if (ossl::X509ReqPtr x(d2i_X509_REQ(nullptr, &p, len)); x && consumed_all(p)) {
      kind = ObjectKind::certificate_request;
    }
  }
  if (kind == ObjectKind::unknown) {
    const unsigned char* p = der.data();
    if (ossl::X509CrlPtr x(d2i_X509_CRL(nullptr, &p, len)); x && consumed_all(p)) kind = ObjectKind::crl;
  }
  if (kind == ObjectKind::unknown) {
    const unsigned char* p = der.data();
    if (ossl::X509SigPtr x(d2i_X509_SIG(nullptr, &p, len)); x && consumed_all(p)) {
      kind = ObjectKind::encrypted_private_key;
    }
  }
  if (kind == ObjectKind::unknown) {
    const unsigned char* p = der.data();
    if (ossl::EvpPkeyPtr k(d2i_PUBKEY(nullptr, &p, len)); k && consumed_all(p)) kind = ObjectKind::public_key;
  }
  if (kind == ObjectKind::unknown) {
    const unsigned char* p = der.data();
    if (ossl::EvpPkeyPtr k(d2i_AutoPrivateKey(nullptr, &p, len)); k && consumed_all(p)) {
      kind = ObjectKind::private_key;
    }
  }
  ERR_clear_error();
  return kind;
}

std::string describe_block(const Block& block) {
  if (block.label == "EC PARAMETERS") return "EC parameters without a key";
  ObjectKind kind = kind_of_label(block.label, block.encrypted);
  if (kind == ObjectKind::unknown) return "a PEM block '" + block.label + "'";
  return std::string(describe_kind(kind));
}

void throw_expected(std::string_view expected, std::string_view found) {
  throw Error(Errc::bad_format, "expected " + std::string(expected) + ", found " + std::string(found));
}

std::string describe_input(ByteView data) {
  if (is_blank(data)) return std::string(describe_kind(ObjectKind::empty));
  if (looks_like_pem(data)) {
    auto blocks = read_blocks(data);
    for (const auto& b : blocks) {
      if (b.label != "EC PARAMETERS") return describe_block(b);
    }
    return describe_block(blocks.front());
  }
  return std::string(describe_kind(classify_der(data)));
}

}  // namespace mqttpki::pki::pem

namespace mqttpki::pki {

ObjectKind detect_kind(ByteView data) {
  try {
    if (pem::is_blank(data)) return ObjectKind::empty;
    if (pem::looks_like_pem(data)) {
      for (const auto& b : pem::read_blocks(data)) {
        if (b.label != "EC PARAMETERS") return pem::kind_of_label(b.label, b.encrypted);
      }
      return ObjectKind::unknown;
    }
    return pem::classify_der(data);
  } catch (const Error&) {
    return ObjectKind::unknown;
  }
}

std::string_view describe_kind(ObjectKind kind) noexcept {
  switch (kind) {
    case ObjectKind::certificate:
      return "a certificate";
    case ObjectKind::certificate_request:
      return "a certificate request (CSR)";
    case ObjectKind::private_key:
      return "a private key";
    case ObjectKind::encrypted_private_key:
      return "an encrypted private key";
    case ObjectKind::public_key:
      return "a public key";
    case ObjectKind::crl:
      return "a CRL";
    case ObjectKind::empty:
      return "nothing (empty input)";
    case ObjectKind::unknown:
      break;
  }
  return "data that is neither PEM nor DER of a known kind";
}

}  // namespace mqttpki::pki
