// bench_pki: how fast the library issues client certificates from CSRs, against what OpenSSL's ECDSA P-256
// can do on one core, measured in the same process.
//
//   bench_pki [COUNT]     COUNT certificates (default 1000)
//
// Timed per certificate: load the CSR PEM, verify its signature (from_csr), issue with a pki::Issuer
// (pre-checks, sign, post-issue structural checks), write the certificate PEM. The Issuer is made once
// before the clock starts, as a CA process does when it loads its CA (its one-time CA checks are timed
// separately below). Key and CSR generation happen before the clock starts too (they run on the devices,
// not on the CA). Two OpenSSL baselines on the same core: the ECDSA limit (EVP_PKEY_sign/verify with a
// reused context, as `openssl speed`), and the same through EVP_DigestSign/Verify with a fresh context
// per operation, which is what X509_sign/X509_verify pay. Each certificate costs at least 1 ECDSA sign
// and 1 verify (the CSR's self-signature, the proof that the requester holds the key): the "crypto floor",
// the same work as one `openssl speed` sign+verify pair. (Until the post-issue check stopped verifying
// the new certificate's signature, the floor was 1 sign + 2 verifies.)
// The last lines are key=value for bench/pki_bench.sh.

#include <mqttpki/pki/pki.hpp>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace mqttpki::pki;

// CPU time of this thread, not wall time: the machine may be busy with other work (a build, CI), and
// `openssl speed` also counts CPU time, so the ratios stay comparable.
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
};

double seconds_since(Clock::time_point start) { return Clock::now() - start; }

struct Rates {
  double sign_per_s = 0;
  double verify_per_s = 0;
  double pair_per_s() const { return 1.0 / (1.0 / sign_per_s + 1.0 / verify_per_s); }
  // What one certificate needs at least: 1 sign + 1 verify (the CSR's signature).
  double floor_per_s() const { return pair_per_s(); }
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "bench_pki: %s failed\n", what);
  std::exit(1);
}

// Runs op in batches for about `budget` seconds (after a short warm-up); operations per second.
template <class Op>
double rate(double budget, Op op) {
  for (int i = 0; i < 20; ++i) op();
  long n = 0;
  auto start = Clock::now();
  while (seconds_since(start) < budget) {
    for (int i = 0; i < 50; ++i) op();
    n += 50;
  }
  return static_cast<double>(n) / seconds_since(start);
}

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

// The primitive's limit: one EVP_PKEY_CTX initialised once, then sign/verify a SHA-256 digest in a loop
// (what `openssl speed ecdsap256` measures).
Rates openssl_limit(EVP_PKEY* key, double budget) {
  unsigned char digest[32] = {1, 2, 3};
  unsigned char sig[128];
  std::size_t siglen = sizeof sig;
  PkeyCtxPtr sctx(EVP_PKEY_CTX_new(key, nullptr), EVP_PKEY_CTX_free);
  PkeyCtxPtr vctx(EVP_PKEY_CTX_new(key, nullptr), EVP_PKEY_CTX_free);
  if (!sctx || !vctx || EVP_PKEY_sign_init(sctx.get()) != 1 || EVP_PKEY_verify_init(vctx.get()) != 1) die("EVP init");
  Rates r;
  r.sign_per_s = rate(budget, [&] {
    siglen = sizeof sig;
    if (EVP_PKEY_sign(sctx.get(), sig, &siglen, digest, sizeof digest) != 1) die("EVP_PKEY_sign");
  });
  r.verify_per_s = rate(budget, [&] {
    if (EVP_PKEY_verify(vctx.get(), sig, siglen, digest, sizeof digest) != 1) die("EVP_PKEY_verify");
  });
  return r;
}

// What X.509 signing and verification pay per operation in OpenSSL 3: a fresh EVP_MD_CTX and
// EVP_DigestSignInit / EVP_DigestVerifyInit (algorithm fetch, context setup) around each signature.
Rates openssl_per_operation(EVP_PKEY* key, double budget) {
  unsigned char msg[32] = {1, 2, 3};
  unsigned char sig[128];
  std::size_t siglen = sizeof sig;
  Rates r;
  r.sign_per_s = rate(budget, [&] {
    MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    siglen = sizeof sig;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), sig, &siglen, msg, sizeof msg) != 1) {
      die("EVP_DigestSign");
    }
  });
  r.verify_per_s = rate(budget, [&] {
    MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestVerify(ctx.get(), sig, siglen, msg, sizeof msg) != 1) {
      die("EVP_DigestVerify");
    }
  });
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

  // The per-CA setup, once per process (timed on its own), then a warm-up, then the whole batch.
  auto setup_start = Clock::now();
  const Issuer issuer(ca, ca_key);
  double setup_ms = 1000.0 * seconds_since(setup_start);
  {
    IssueRequest r = from_csr(Csr::load(csrs[0]));
    r.now = now;
    (void)issuer.issue(r);
  }
  std::size_t bytes = 0;
  auto start = Clock::now();
  for (const auto& pem : csrs) {
    IssueRequest r = from_csr(Csr::load(pem));
    r.profile = Profile::client;
    r.days = 365;
    r.now = now;
    IssueResult result = issuer.issue(r);
    bytes += result.certificate.to_pem().size();
  }
  double elapsed = seconds_since(start);
  double library_rate = count / elapsed;
  std::printf("  library:   %9.1f certificates/s of CPU time (%.3f ms each, %zu bytes of PEM)\n", library_rate,
              1000.0 * elapsed / count, bytes);
  std::printf("  per-CA setup (pki::Issuer: key/certificate match, strict self-check), once: %.3f ms\n", setup_ms);

  // Key generation (what `gen-key` and `csr --new-key` cost on a device or for a fleet): the library's
  // PrivateKey::generate against OpenSSL's own EVP_EC_gen, both P-256.
  double lib_keygen = rate(1.0, [] { (void)PrivateKey::generate(KeyType::p256); });
  double evp_keygen = rate(1.0, [] {
    PkeyPtr k(EVP_EC_gen("P-256"), EVP_PKEY_free);
    if (!k) die("EVP_EC_gen");
  });
  std::printf("  key generation, P-256: library %.0f keys/s, EVP_EC_gen %.0f keys/s (ratio %.2f)\n", lib_keygen,
              evp_keygen, lib_keygen / evp_keygen);

  PkeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) die("EVP_EC_gen");
  Rates limit = openssl_limit(key.get(), 1.0);
  Rates per_op = openssl_per_operation(key.get(), 1.0);
  std::printf("  OpenSSL ECDSA P-256, one core:\n");
  std::printf("    limit (EVP_PKEY_sign/verify, context reused):      %7.0f sign/s %7.0f verify/s %7.0f sign+verify/s\n",
              limit.sign_per_s, limit.verify_per_s, limit.pair_per_s());
  std::printf("    per X.509 operation (EVP_DigestSign/Verify + init): %7.0f sign/s %7.0f verify/s %7.0f sign+verify/s\n",
              per_op.sign_per_s, per_op.verify_per_s, per_op.pair_per_s());
  std::printf("  crypto floor per certificate (1 sign + 1 verify): %.0f/s at the limit (the pair above), %.0f/s per X.509 operation\n",
              limit.floor_per_s(), per_op.floor_per_s());
  std::printf("  ratio library / OpenSSL limit sign+verify:   %.3f\n", library_rate / limit.pair_per_s());
  std::printf("  ratio library / crypto floor per X.509 op:   %.3f\n", library_rate / per_op.floor_per_s());
  std::printf("certificates_per_second=%.1f\n", library_rate);
  std::printf("keygen_per_second=%.1f\n", lib_keygen);
  std::printf("evp_keygen_per_second=%.1f\n", evp_keygen);
  std::printf("openssl_sign_per_second=%.1f\n", limit.sign_per_s);
  std::printf("openssl_verify_per_second=%.1f\n", limit.verify_per_s);
  std::printf("openssl_sign_verify_per_second=%.1f\n", limit.pair_per_s());
  std::printf("x509_op_sign_verify_per_second=%.1f\n", per_op.pair_per_s());
  return 0;
}
