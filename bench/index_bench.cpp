// bench_index DIR N: builds a CA folder in DIR with N issued client certificates (one index save at the end,
// so building a large fleet takes seconds), for bench/index_bench.sh to time `mqttpki list` and
// `mqttpki renew` over. Each device gets its own P-256 key, as a real fleet would.

#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/name.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/index.hpp>

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
    auto lock = folder.lock();
    auto index = folder.load_index();

    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      const std::string name = fmt::format("device-{:05d}", i);
      auto key = pki::PrivateKey::generate(pki::KeyType::p256);
      pki::IssueRequest request;
      request.public_key = key.public_key();
      request.subject = pki::Name::build(name, "", "");
      request.profile = pki::Profile::client;
      // A spread of expiry dates, as a fleet issued over a year has: device i expires in 30..394 days.
      request.days = 30 + (i % 365);
      request.now = now;
      auto cert = pki::issue(ca, ca_key, request).certificate;
      store::IndexEntry entry;
      entry.serial = cert.serial_hex();
      entry.name = name;
      entry.cn = name;
      entry.subject = cert.subject().to_string();
      entry.profile = "client";
      entry.not_before = cert.not_before();
      entry.not_after = cert.not_after();
      entry.issued_at = now;
      entry.file = store::CaLayout::issued_relative(name);
      entry.sha256 = cert.fingerprint_sha256();
      entry.public_key_sha256 = key.public_key().fingerprint_sha256();
      index.add(std::move(entry));
      store::write_file_atomic(folder.layout().issued_cert(name), cert.to_pem(), store::mode_public, false);
    }
    folder.save_index(index);
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
