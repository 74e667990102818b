// pem::encode (pem.hpp) writes PEM without OpenSSL's BIO/EVP_ENCODE_CTX: it must match PEM_write_bio byte for
// byte, and what it writes must read back with PEM_read_bio.
#include "helpers.hpp"

#include "pem.hpp"

#include <openssl/rand.h>

using namespace pki_test;

namespace {

std::string openssl_pem(const char* label, const Bytes& der) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio(bio.get(), label, "", der.data(), static_cast<long>(der.size())) > 0);
  return bio_string(bio.get());
}

}  // namespace

TEST_CASE("pem::encode matches PEM_write_bio for every size from 1 to 1,100 bytes", "[pem]") {
  for (std::size_t size = 1; size <= 1100; ++size) {  // (PEM_write_bio writes nothing for 0 bytes; no DER is empty)
    INFO("size " << size);
    Bytes der(size);
    REQUIRE(RAND_bytes(der.data(), static_cast<int>(size)) == 1);
    for (const char* label : {"CERTIFICATE", "CERTIFICATE REQUEST"}) {
      const std::string ours = mqttpki::pki::pem::encode(label, der);
      REQUIRE(ours == openssl_pem(label, der));
      BioPtr in(BIO_new_mem_buf(ours.data(), static_cast<int>(ours.size())));
      char* name = nullptr;
      char* header = nullptr;
      unsigned char* data = nullptr;
      long len = 0;
      REQUIRE(PEM_read_bio(in.get(), &name, &header, &data, &len) == 1);
      CHECK(std::string(name) == label);
      CHECK(Bytes(data, data + len) == der);
      OPENSSL_free(name);
      OPENSSL_free(header);
      OPENSSL_free(data);
    }
  }
}

TEST_CASE("Certificate::to_pem and Csr::to_pem match OpenSSL's PEM writers", "[pem]") {
  TestCa ca = make_test_ca();
  X509Ptr x = raw_x509(ca.cert);
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), x.get()) == 1);
  CHECK(ca.cert.to_pem() == bio_string(bio.get()));
  Csr csr = Csr::create(ca.key, Name::build("pi1", "Home"), {parse_san("DNS:pi1.local")});
  BioPtr req_bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio(req_bio.get(), "CERTIFICATE REQUEST", "", csr.to_der().data(),
                        static_cast<long>(csr.to_der().size())) > 0);
  CHECK(csr.to_pem() == bio_string(req_bio.get()));
}
