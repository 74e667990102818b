// bench_pki: how fast the library issues client certificates from CSRs, against what OpenSSL's ECDSA P-256
// can do on one core, measured in the same process.
//
//   bench_pki [COUNT]     COUNT certificates (default 1000)
//
// Timed per certificate: load the CSR PEM, verify its signature (from_csr), issue (pre-checks, sign,
// post-issue X509_verify_cert), write the certificate PEM. Key and CSR generation happen before the clock
// starts (they run on the devices, not on the CA). The raw rate is EVP_DigestSign / EVP_DigestVerify with
// SHA-256 over a 32-byte message. Each certificate costs at least 1 ECDSA sign and 2 verifies (the CSR's
// self-signature and the issued certificate's signature), which gives the "crypto floor".
// The last lines are key=value for bench/pki_bench.sh.

#include <mqttpki/pki/pki.hpp>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace mqttpki::pki;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Rates {
  double sign_per_s = 0;
  double verify_per_s = 0;
};

// Raw EVP ECDSA P-256 with SHA-256, about `budget` seconds for each of sign and verify.
Rates openssl_p256_rates(double budget) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) {
    std::fprintf(stderr, "EVP_EC_gen failed\n");
    std::exit(1);
  }
  unsigned char msg[32] = {1, 2, 3};
  unsigned char sig[128];
  std::size_t siglen = 0;
  auto sign_once = [&] {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    siglen = sizeof sig;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), sig, &siglen, msg, sizeof msg) != 1) {
      std::fprintf(stderr, "EVP_DigestSign failed\n");
      std::exit(1);
    }
  };
  auto verify_once = [&] {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestVerify(ctx.get(), sig, siglen, msg, sizeof msg) != 1) {
      std::fprintf(stderr, "EVP_DigestVerify failed\n");
      std::exit(1);
    }
  };
  Rates r;
  for (int pass = 0; pass < 2; ++pass) {  // pass 0 warms up
    double b = pass == 0 ? budget / 10 : budget;
    long n = 0;
    auto start = Clock::now();
    while (seconds_since(start) < b) {
      for (int i = 0; i < 50; ++i) sign_once();
      n += 50;
    }
    r.sign_per_s = static_cast<double>(n) / seconds_since(start);
    n = 0;
    start = Clock::now();
    while (seconds_since(start) < b) {
      for (int i = 0; i < 50; ++i) verify_once();
      n += 50;
    }
    r.verify_per_s = static_cast<double>(n) / seconds_since(start);
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int count = argc > 1 ? std::atoi(argv[1]) : 1000;
  if (count <= 0) {
    std::fprintf(stderr, "usage: bench_pki [COUNT]\n");
    return 2;
  }
  const TimePoint now = std::chrono::system_clock::now();
  PrivateKey ca_key = PrivateKey::generate(KeyType::p256);
  CaOptions ca_options;
  ca_options.subject = Name::build("Bench CA", "mqttpki");
  ca_options.now = now;
  Certificate ca = make_ca(ca_key, ca_options);

  std::printf("bench_pki: %d client certificates from CSRs (P-256 CA, P-256 clients)\n", count);
  std::vector<std::string> csrs;
  csrs.reserve(static_cast<std::size_t>(count));
  PrivateKey device_key = PrivateKey::generate(KeyType::p256);  // one device key: keygen is not the CA's cost
  for (int i = 0; i < count; ++i) {
    csrs.push_back(Csr::create(device_key, Name::build("device-" + std::to_string(i), "mqttpki")).to_pem());
  }

  // Warm up once, then time the whole batch.
  {
    IssueRequest r = from_csr(Csr::load(csrs[0]));
    r.now = now;
    (void)issue(ca, ca_key, r);
  }
  std::size_t bytes = 0;
  auto start = Clock::now();
  for (const auto& pem : csrs) {
    IssueRequest r = from_csr(Csr::load(pem));
    r.profile = Profile::client;
    r.days = 365;
    r.now = now;
    IssueResult result = issue(ca, ca_key, r);
    bytes += result.certificate.to_pem().size();
  }
  double elapsed = seconds_since(start);
  double library_rate = count / elapsed;
  std::printf("  library:   %9.1f certificates/s  (%.3f ms each, %zu bytes of PEM)\n", library_rate,
              1000.0 * elapsed / count, bytes);

  Rates raw = openssl_p256_rates(1.0);
  double pair_rate = 1.0 / (1.0 / raw.sign_per_s + 1.0 / raw.verify_per_s);
  double floor_rate = 1.0 / (1.0 / raw.sign_per_s + 2.0 / raw.verify_per_s);
  std::printf("  OpenSSL ECDSA P-256 via EVP, one core: %.0f sign/s, %.0f verify/s, %.0f sign+verify/s\n",
              raw.sign_per_s, raw.verify_per_s, pair_rate);
  std::printf("  crypto floor per certificate (1 sign + 2 verifies): %.0f certificates/s\n", floor_rate);
  std::printf("  ratio library / OpenSSL sign+verify: %.2f\n", library_rate / pair_rate);
  std::printf("  ratio library / crypto floor:        %.2f\n", library_rate / floor_rate);
  std::printf("certificates_per_second=%.1f\n", library_rate);
  std::printf("openssl_sign_per_second=%.1f\n", raw.sign_per_s);
  std::printf("openssl_verify_per_second=%.1f\n", raw.verify_per_s);
  std::printf("openssl_sign_verify_per_second=%.1f\n", pair_rate);
  return 0;
}
