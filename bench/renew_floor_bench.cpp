// bench_renew_floor: the least CPU a renewal over MQTT costs the CA host, for bench/renew_mqtt_bench.sh to set
// the agent's measured CPU per renewal against, in the same run.
//
//   bench_renew_floor [COUNT]     COUNT renewals (default 500)
//
// Timed per renewal (CPU time of this thread): open the device's request (pki::cms_verify: one ECDSA verify of
// the CMS signature), load and verify its PKCS#10 request (pki::from_csr: one verify), issue the new certificate
// (pki::Issuer::issue: one sign). Nothing else the agent does is in it: no MQTT, TLS, JSON, the signer's chain
// check, the CA's records (SQLite), files, locks. The requests are made before the clock starts (devices make
// them). Prints one key=value line last.

#include <mqttpki/pki/cms.hpp>
#include <mqttpki/pki/pki.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

namespace {

using namespace mqttpki::pki;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// What the CA host does at least for one request.
void renew_once(const Issuer& issuer, const Bytes& request, TimePoint now) {
  const SignedContent opened = cms_verify(request);
  IssueRequest r = from_csr(Csr::load(ByteView(opened.content)));
  r.profile = Profile::client;
  r.days = 365;
  r.now = now;
  (void)issuer.issue(r);
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 500;
  if (count <= 0) {
    std::fprintf(stderr, "usage: bench_renew_floor [COUNT]\n");
    return 2;
  }
  const TimePoint now = std::chrono::system_clock::now();
  const PrivateKey ca_key = PrivateKey::generate(KeyType::p256);
  CaOptions ca_options;
  ca_options.subject = Name::build("Bench CA", "mqttpki");
  ca_options.now = now;
  const Issuer issuer(make_ca(ca_key, ca_options), ca_key);

  // One device certificate and key per request, each request signed by its device, as the fleet sends them.
  std::vector<Bytes> requests;
  for (int i = 0; i < count; ++i) {
    const PrivateKey key = PrivateKey::generate(KeyType::p256);
    const Csr csr = Csr::create(key, Name::build("dev" + std::to_string(i), "mqttpki"));
    IssueRequest r = from_csr(csr);
    r.profile = Profile::client;
    r.now = now;
    const Certificate current = issuer.issue(r).certificate;
    requests.push_back(cms_sign(csr.to_der(), current, key, "0123456789abcdef0123456789abcdef", now));
  }
  renew_once(issuer, requests.front(), now);  // warm-up

  const double start = cpu_seconds();
  for (const auto& request : requests) renew_once(issuer, request, now);
  const double per_renewal_us = 1e6 * (cpu_seconds() - start) / count;
  std::printf("bench_renew_floor: %d renewals, CMS verify + CSR verify + sign: %.1f us of CPU each (%.0f/s on one core)\n",
              count, per_renewal_us, 1e6 / per_renewal_us);
  std::printf("floor_us_per_renewal=%.1f\n", per_renewal_us);
}
