#include "pem.hpp"

#include "ossl.hpp"

#include <openssl/pem.h>

#include <algorithm>

namespace mqttpki::pki::pem {

namespace {

constexpr std::string_view begin_marker = "-----BEGIN ";
constexpr std::string_view dashes = "-----";

std::string_view as_text(ByteView data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

// Parse one block's text with OpenSSL's PEM reader (header and base64 handling).
Block decode_block(std::string label, std::string text) {
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

std::vector<Block> read_blocks(ByteView data) {
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
    blocks.push_back(decode_block(std::move(label), std::move(block_text)));
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
