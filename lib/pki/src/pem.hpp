#pragma once
// Internal: PEM block scanning and "expected X, found Y" messages shared by every loader.

#include <mqttpki/pki/types.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::pki::pem {

struct Block {
  std::string label;   // "CERTIFICATE", "EC PRIVATE KEY", ...
  std::string text;    // the whole block, BEGIN to END line, for decoders that want PEM
  Bytes der;           // decoded body (still encrypted for legacy encrypted PEM)
  bool encrypted = false;  // "Proc-Type: 4,ENCRYPTED" header
};

// The input contains a PEM BEGIN line (so it is treated as PEM, not DER).
bool looks_like_pem(ByteView data);
// Every block, in order. Throws Errc::bad_format "truncated or damaged PEM (...)". A block laid out as
// PEM writers lay it out (lines of 64 base64 characters, no headers) is decoded here; any other goes
// through OpenSSL's PEM_read_bio, which openssl_only forces for every block (for tests: both must agree).
std::vector<Block> read_blocks(ByteView data, bool openssl_only = false);

ObjectKind kind_of_label(std::string_view label, bool encrypted);
// What a DER blob is (tries certificate, CSR, CRL, encrypted key, private key, public key).
ObjectKind classify_der(ByteView der);
// Description of what was found, for messages: "a private key", "EC parameters only", ...
std::string describe_block(const Block& block);

// Throws Errc::bad_format "expected <expected>, found <found>".
[[noreturn]] void throw_expected(std::string_view expected, std::string_view found);
// For loaders: what the input holds, described (first non-"EC PARAMETERS" block, or DER classification).
std::string describe_input(ByteView data);

bool is_blank(ByteView data);

// A PEM block for DER: "-----BEGIN <label>-----\n", the base64 in lines of 64 characters, "-----END
// <label>-----\n": byte for byte what PEM_write_bio(label, "", der) writes, without a BIO or
// EVP_ENCODE_CTX (unit tests compare the two for many sizes).
std::string encode(std::string_view label, ByteView der);

}  // namespace mqttpki::pki::pem
