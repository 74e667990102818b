// pem::read_blocks (pem.hpp): the PEM reading every loader shares, and the PEM writers.
#include "helpers.hpp"

#include "pem.hpp"

using namespace pki_test;

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  return s;
}

std::string error_of(const std::string& text) {
  try {
    (void)mqttpki::pki::pem::read_blocks(as_bytes(text));
  } catch (const Error& e) {
    CHECK(e.code() == Errc::bad_format);
    return e.what();
  }
  return "decodes";
}

}  // namespace

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

TEST_CASE("pem::read_blocks: labels, DER, line endings, text around and between blocks", "[pem]") {
  TestCa ca = make_test_ca();
  const std::string cert = ca.cert.to_pem();
  const Csr csr = Csr::create(ca.key, Name::build("pi1", "Home"));
  const std::string req = csr.to_pem();
  for (const std::string& text : {cert + req, replace_all(cert + req, "\n", "\r\n"),
                                  "junk before\n" + cert + "between\n" + req + "after"}) {
    const auto blocks = mqttpki::pki::pem::read_blocks(as_bytes(text));
    REQUIRE(blocks.size() == 2);
    CHECK(blocks[0].label == "CERTIFICATE");
    CHECK(blocks[0].der == ca.cert.to_der());
    CHECK(blocks[1].label == "CERTIFICATE REQUEST");
    CHECK(blocks[1].der == csr.to_der());
    CHECK_FALSE(blocks[1].encrypted);
    // Each block's text reads back as that block on its own.
    CHECK(mqttpki::pki::pem::read_blocks(as_bytes(blocks[1].text)).front().der == csr.to_der());
  }
  const std::string legacy = replace_all(req, "REQUEST-----\n",
                                         "REQUEST-----\nProc-Type: 4,ENCRYPTED\n"
                                         "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n");
  CHECK(mqttpki::pki::pem::read_blocks(as_bytes(legacy)).front().encrypted);
}

TEST_CASE("pem::read_blocks: damaged PEM is refused with OpenSSL's reason", "[pem][errors]") {
  TestCa ca = make_test_ca();
  const std::string req = Csr::create(ca.key, Name::build("pi1", "Home")).to_pem();
  const std::size_t body = req.find('\n') + 1;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"missing END", req.substr(0, req.find("-----END"))},
      {"cut in the middle", req.substr(0, req.size() / 2)},
      {"wrong END label", replace_all(req, "END CERTIFICATE REQUEST", "END CERTIFICATE")},
      {"bad character", req.substr(0, body + 5) + "*" + req.substr(body + 6)},
      {"damaged BEGIN line", replace_all(req, "REQUEST-----\n", "REQUEST--\n")},
      {"no BEGIN line", req.substr(body)},
  };
  for (const auto& [what, text] : cases) {
    INFO(what);
    CHECK_THAT(error_of(text), Catch::Matchers::StartsWith("truncated or damaged PEM ("));
  }
  // A good block followed by a damaged one is refused too.
  CHECK_THAT(error_of(req + req.substr(0, req.size() / 2)), Catch::Matchers::StartsWith("truncated or damaged PEM ("));
}
