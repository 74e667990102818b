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

namespace {

// What read_blocks makes of `text`: each block's label, DER and encrypted flag, or the error message.
std::string read_outcome(const std::string& text, bool openssl_only) {
  try {
    std::string out;
    for (const auto& b : mqttpki::pki::pem::read_blocks(as_bytes(text), openssl_only)) {
      out += b.label + "|" + std::to_string(b.encrypted) + "|" + std::to_string(b.der.size()) + "|" +
             std::string(b.der.begin(), b.der.end()) + "|" + b.text + "\n";
    }
    return out;
  } catch (const Error& e) {
    return std::string("error: ") + e.what();
  }
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  return s;
}

}  // namespace

TEST_CASE("pem::read_blocks decodes plain blocks itself exactly as PEM_read_bio does", "[pem]") {
  for (std::size_t size = 1; size <= 1100; ++size) {
    INFO("size " << size);
    Bytes der(size);
    REQUIRE(RAND_bytes(der.data(), static_cast<int>(size)) == 1);
    const std::string lf = mqttpki::pki::pem::encode("CERTIFICATE REQUEST", der);
    for (const std::string& text : {lf, replace_all(lf, "\n", "\r\n"), "junk before\n" + lf + "junk after\n"}) {
      const auto blocks = mqttpki::pki::pem::read_blocks(as_bytes(text));
      REQUIRE(blocks.size() == 1);
      CHECK(blocks[0].der == der);
      CHECK(blocks[0].label == "CERTIFICATE REQUEST");
      CHECK_FALSE(blocks[0].encrypted);
      REQUIRE(read_outcome(text, false) == read_outcome(text, true));
    }
  }
}

TEST_CASE("pem::read_blocks: unusual and damaged PEM gives what PEM_read_bio gives", "[pem][errors]") {
  TestCa ca = make_test_ca();
  const std::string cert = ca.cert.to_pem();
  Csr csr = Csr::create(ca.key, Name::build("pi1", "Home"));
  const std::string req = csr.to_pem();
  // A DER size that needs padding of one and of two '=' characters.
  Bytes one(47, 0x5A);
  Bytes two(46, 0xA5);
  const std::string pad1 = mqttpki::pki::pem::encode("CERTIFICATE", one);
  const std::string pad2 = mqttpki::pki::pem::encode("CERTIFICATE", two);
  REQUIRE(pad1.find("=\n") != std::string::npos);
  REQUIRE(pad2.find("==\n") != std::string::npos);

  auto body_at = [](const std::string& text, std::size_t line) {  // offset of a body line's start
    std::size_t at = text.find('\n') + 1;
    for (std::size_t i = 0; i < line; ++i) at = text.find('\n', at) + 1;
    return at;
  };
  std::vector<std::pair<std::string, std::string>> cases = {
      {"certificate", cert},
      {"request", req},
      {"padding 1", pad1},
      {"padding 2", pad2},
      {"CRLF", replace_all(req, "\n", "\r\n")},
      {"CR only", replace_all(req, "\n", "\r")},
      {"two blocks", cert + req},
      {"two blocks, text between", cert + "hello\n" + req},
      {"trailing data", req + "trailing"},
      {"no final newline", req.substr(0, req.size() - 1)},
      {"wrong END label", replace_all(req, "END CERTIFICATE REQUEST", "END CERTIFICATE")},
      {"missing END", req.substr(0, req.find("-----END"))},
      {"missing BEGIN", req.substr(req.find('\n') + 1)},
      {"lower-case label", replace_all(req, "CERTIFICATE REQUEST", "certificate request")},
      {"NEW CERTIFICATE REQUEST", replace_all(req, "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")},
      {"Proc-Type header", replace_all(req, "REQUEST-----\n", "REQUEST-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n")},
      {"other header", replace_all(req, "REQUEST-----\n", "REQUEST-----\nComment: hello\n\n")},
      {"blank line after BEGIN", replace_all(req, "REQUEST-----\n", "REQUEST-----\n\n")},
      {"blank line before END", replace_all(req, "\n-----END", "\n\n-----END")},
      {"space after BEGIN line", replace_all(req, "REQUEST-----\n", "REQUEST----- \n")},
      {"tab after BEGIN line", replace_all(req, "REQUEST-----\n", "REQUEST-----\t\n")},
      {"space at a line end", req.substr(0, body_at(req, 1) - 1) + " " + req.substr(body_at(req, 1) - 1)},
      {"space inside a line", req.substr(0, body_at(req, 1) + 10) + " " + req.substr(body_at(req, 1) + 10)},
      {"bad character", req.substr(0, body_at(req, 1) + 5) + "*" + req.substr(body_at(req, 1) + 6)},
      {"'-' in the body", req.substr(0, body_at(req, 1) + 5) + "-" + req.substr(body_at(req, 1) + 6)},
      {"'=' in the middle", req.substr(0, body_at(req, 0) + 8) + "=" + req.substr(body_at(req, 0) + 9)},
      {"padding removed (1)", replace_all(pad1, "=\n", "\n")},
      {"padding removed (2)", replace_all(pad2, "==\n", "\n")},
      {"extra padding", replace_all(pad1, "=\n", "==\n")},
      {"padding then data", replace_all(pad1, "=\n", "=AAAA\n")},
      {"non-canonical padding bits (1)", [&] {
         std::string t = pad1;
         std::size_t at = t.find("=\n") - 1;
         t[at] = t[at] == 'A' ? 'B' : static_cast<char>(t[at] | 0x01);
         return t;
       }()},
      {"non-canonical padding bits (2)", [&] {
         std::string t = pad2;
         std::size_t at = t.find("==\n") - 1;
         t[at] = t[at] == 'A' ? 'B' : static_cast<char>(t[at] ^ 0x01);
         return t;
       }()},
      {"a character removed", req.substr(0, body_at(req, 1) + 3) + req.substr(body_at(req, 1) + 4)},
      {"a line removed", req.substr(0, body_at(req, 1)) + req.substr(body_at(req, 2))},
      {"lines of 76", [&] {
         std::string body;
         for (char c : req.substr(body_at(req, 0), req.find("-----END") - body_at(req, 0))) {
           if (c != '\n') body += c;
         }
         std::string t = req.substr(0, body_at(req, 0));
         for (std::size_t i = 0; i < body.size(); i += 76) t += body.substr(i, 76) + "\n";
         return t + req.substr(req.find("-----END"));
       }()},
      {"lines of 60", [&] {
         std::string body;
         for (char c : req.substr(body_at(req, 0), req.find("-----END") - body_at(req, 0))) {
           if (c != '\n') body += c;
         }
         std::string t = req.substr(0, body_at(req, 0));
         for (std::size_t i = 0; i < body.size(); i += 60) t += body.substr(i, 60) + "\n";
         return t + req.substr(req.find("-----END"));
       }()},
      {"one long line", [&] {
         std::string body;
         for (char c : req.substr(body_at(req, 0), req.find("-----END") - body_at(req, 0))) {
           if (c != '\n') body += c;
         }
         return req.substr(0, body_at(req, 0)) + body + "\n" + req.substr(req.find("-----END"));
       }()},
      {"short line in the middle", req.substr(0, body_at(req, 0) + 32) + "\n" + req.substr(body_at(req, 0) + 32)},
      {"END marker inside the body", replace_all(req, "\n-----END", "\n-----END CERTIFICATE-----\n-----END")},
      {"empty body", "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"},
      {"only padding", "-----BEGIN CERTIFICATE REQUEST-----\n====\n-----END CERTIFICATE REQUEST-----\n"},
      {"BEGIN twice", "-----BEGIN CERTIFICATE REQUEST-----\n" + req},
      {"EC PARAMETERS first", "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + req},
  };
  for (const auto& [what, text] : cases) {
    INFO(what);
    CHECK(read_outcome(text, false) == read_outcome(text, true));
  }
  // Csr::load and Certificate::load end up where they did: the same result or the same message.
  for (const auto& [what, text] : cases) {
    INFO(what);
    std::string ours;
    try {
      ours = Csr::load(as_bytes(text)).to_pem();
    } catch (const Error& e) {
      ours = e.what();
    }
    std::string theirs;
    try {
      (void)mqttpki::pki::pem::read_blocks(as_bytes(text), true);
      theirs = "decodes";
    } catch (const Error& e) {
      theirs = e.what();
    }
    if (theirs != "decodes" && mqttpki::pki::pem::looks_like_pem(as_bytes(text))) CHECK(ours == theirs);
  }
}
