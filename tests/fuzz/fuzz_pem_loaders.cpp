// The PEM/DER loaders on arbitrary bytes: Certificate::load / load_chain, PrivateKey::load (no passphrase, a
// passphrase), PublicKey::load, Csr::load, detect_kind and the CRL reader. Bad input must end in
// mqttpki::Error (never another exception, a crash or a leak), and what loads must round-trip.
#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/csr.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/types.hpp>
#include <mqttpki/store/renewal.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "pem.hpp"  // lib/pki/src: read_blocks, the PEM reading every loader shares

const char* const fuzz_target_name = "fuzz_pem_loaders";

using namespace mqttpki;
using fuzz_support::bug;
using fuzz_support::expect_error_or_ok;
using namespace mqttpki::pki;

namespace {

const TimePoint fixed_now = TimePoint{} + std::chrono::seconds(1'800'000'000);

// read_blocks (OpenSSL's PEM_read_bio, block by block) ends in a block list or mqttpki::Error, and each
// block's text reads back as that same block.
void check_blocks(ByteView input) {
  std::vector<pki::pem::Block> blocks;
  try {
    blocks = pki::pem::read_blocks(input);
  } catch (const Error&) {
    return;
  }
  for (const auto& b : blocks) {
    const auto again = pki::pem::read_blocks(as_bytes(b.text));
    if (again.size() != 1 || again[0].label != b.label || again[0].der != b.der || again[0].encrypted != b.encrypted) {
      bug("a PEM block's text does not read back as the block");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (pki::pem::looks_like_pem(input)) check_blocks(input);

  const ObjectKind kind = detect_kind(input);  // never throws
  (void)describe_kind(kind);
  (void)PrivateKey::is_encrypted(input);

  expect_error_or_ok([&] {
    const Certificate cert = Certificate::load(input);
    (void)cert.describe(fixed_now);
    (void)cert.extension_names();
    (void)cert.is_self_signed();
    if (!(Certificate::load(cert.to_der()) == cert)) bug("certificate DER does not round-trip");
    if (!(Certificate::load(cert.to_pem()) == cert)) bug("certificate PEM does not round-trip");
  });
  expect_error_or_ok([&] {
    const auto chain = Certificate::load_chain(input);
    if (chain.empty()) bug("load_chain returned no certificate without an error");
  });
  expect_error_or_ok([&] {
    const PrivateKey key = PrivateKey::load(input);
    (void)key.type_name();
    if (!key.matches(PrivateKey::load(key.to_der()).public_key())) bug("private key DER does not round-trip");
  });
  // A passphrase: also exercises the decryption paths of encrypted PKCS#8 and legacy encrypted PEM.
  expect_error_or_ok([&] { (void)PrivateKey::load(input, std::string_view("fuzz passphrase")); });
  expect_error_or_ok([&] {
    const PublicKey pub = PublicKey::load(input);
    (void)pub.type_name();
    if (!(PublicKey::load(pub.der()) == pub)) bug("public key DER does not round-trip");
  });
  expect_error_or_ok([&] {
    const Csr csr = Csr::load(input);
    (void)csr.signature_valid();
    (void)csr.subject();
    (void)csr.sans();
    (void)csr.requested_extensions();
    if (!(Csr::load(csr.to_der()).to_der() == csr.to_der())) bug("CSR DER does not round-trip");
    const PublicKey pub = csr.public_key();  // Errc::bad_format when OpenSSL cannot use the key
    if (!(PublicKey::load(pub.der()) == pub)) bug("CSR public key DER does not round-trip");
  });
  expect_error_or_ok([&] {
    const store::CrlInfo info = store::read_crl_info(text);
    (void)info.revoked_serials.size();
  });
  return 0;
}
