#include "pem.hpp"

#include "ossl.hpp"

#include <openssl/pem.h>

#include <algorithm>
#include <memory>
#include <cstdint>

namespace mqttpki::pki::pem {

namespace {

constexpr std::string_view begin_marker = "-----BEGIN ";

std::string_view as_text(ByteView data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

// What a memory BIO has not handed out yet.
std::string_view unread(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return len > 0 && data != nullptr ? std::string_view(data, static_cast<std::size_t>(len)) : std::string_view{};
}

[[noreturn]] void throw_damaged(const std::string& detail) {
  throw Error(Errc::bad_format, "truncated or damaged PEM (" + detail + ")");
}

}  // namespace

bool looks_like_pem(ByteView data) { return as_text(data).find(begin_marker) != std::string_view::npos; }

bool is_blank(ByteView data) {
  return std::all_of(data.begin(), data.end(),
                     [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::vector<Block> read_blocks(ByteView data) {
  ossl::BioPtr bio(ossl::check_ptr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())), "BIO_new_mem_buf"));
  std::vector<Block> blocks;
  for (;;) {
    const std::string_view before = unread(bio.get());
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* der = nullptr;
    long len = 0;
    const int ok = PEM_read_bio(bio.get(), &name, &header, &der, &len);
    const ossl::OpensslStringPtr name_owner(name);
    const ossl::OpensslStringPtr header_owner(header);
    const ossl::OpensslBytesPtr der_owner(der);
    if (ok != 1) {
      const bool no_more = ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE;
      if (no_more && before.find(begin_marker) == std::string_view::npos) {
        ERR_clear_error();
        if (blocks.empty()) throw_damaged("no BEGIN line");
        return blocks;
      }
      // A BEGIN line PEM_read_bio did not take, or a block it could not decode.
      const std::string detail = ossl::drain_errors();
      throw_damaged(no_more ? "bad BEGIN line" : detail.empty() ? "a block does not decode" : detail);
    }
    Block block;
    block.label = name;
    // The block's text (with whatever preceded it since the last block, which PEM readers skip).
    block.text = std::string(before.substr(0, before.size() - unread(bio.get()).size()));
    block.der.assign(der, der + len);
    block.encrypted = header != nullptr && std::string_view(header).find("ENCRYPTED") != std::string_view::npos;
    blocks.push_back(std::move(block));
  }
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
