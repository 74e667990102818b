#pragma once
// Internal: PEM blocks as OpenSSL's PEM_read_bio reads them, and "expected X, found Y" messages shared by
// every loader.

#include <mqttpki/pki/types.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::pki::pem {

struct Block {
  std::string label;   // "CERTIFICATE", "EC PRIVATE KEY", ...
  std::string text;    // the block as read (BEGIN to END line, after any text since the previous block),
                       // for decoders that want PEM
  Bytes der;           // decoded body (still encrypted for legacy encrypted PEM)
  bool encrypted = false;  // "Proc-Type: 4,ENCRYPTED" header
};

// The input contains a PEM BEGIN line (so it is treated as PEM, not DER).
bool looks_like_pem(ByteView data);
// Every block, in order, each read by PEM_read_bio. Throws Errc::bad_format "truncated or damaged PEM
// (...)" with OpenSSL's reason.
std::vector<Block> read_blocks(ByteView data);

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

}  // namespace mqttpki::pki::pem
