// bench_index DIR N: builds a CA folder in DIR with N issued client certificates (through the one issuance path,
// one transaction per 1,000, so building a large fleet takes seconds), for bench/index_bench.sh to time `mqttpki list` and
// `mqttpki renew` over. Each device gets its own P-256 key, as a real fleet would.

#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/name.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/index.hpp>
#include <mqttpki/store/issuance.hpp>

#include <algorithm>

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

using namespace mqttpki;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: bench_index DIR N\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const int n = std::atoi(argv[2]);
  const auto now = std::chrono::system_clock::now();
  try {
    auto ca_key = pki::PrivateKey::generate(pki::KeyType::p256);
    pki::CaOptions ca_options;
    ca_options.subject = pki::Name::build("Bench CA", "Bench", "");
    ca_options.now = now;
    auto ca = pki::make_ca(ca_key, ca_options);
    auto created = store::CaFolder::create(dir, ca.to_pem(), ca_key.to_pem(), false, now);
    auto& folder = created.folder;
    const auto held = folder.lock();
    auto index = folder.open_index(held);
    store::CaMaterial ca_material{ca, ca_key, folder.layout().ca_cert, {}, {}};

    const auto t0 = std::chrono::steady_clock::now();
    constexpr int batch = 1000;
    for (int start = 0; start < n; start += batch) {
      auto tx = index.begin();
      for (int i = start; i < std::min(n, start + batch); ++i) {
        const std::string name = fmt::format("device-{:05d}", i);
        auto key = pki::PrivateKey::generate(pki::KeyType::p256);
        store::IssueOrder order;
        order.name = name;
        order.request.public_key = key.public_key();
        order.request.subject = pki::Name::build(name, "", "");
        order.request.profile = pki::Profile::client;
        // A spread of expiry dates, as a fleet issued over a year has: device i expires in 30..394 days.
        order.request.days = 30 + (i % 365);
        order.request.now = now;
        (void)store::issue_certificate(index, ca_material, std::move(order));
      }
      tx.commit();
      folder.write_certificate_files(index, held);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << fmt::format("built {} certificates in {:.1f} s (key generation + issue + atomic write each)\n", n,
                             secs);
    std::cout << fmt::format("build_per_second={:.0f}\n", n / secs);
  } catch (const std::exception& e) {
    std::cerr << "bench_index: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
