#pragma once
// The CA's CRL (DIR/crl.pem): what `mqttpki crl` writes and `renew --all` keeps fresh.

#include <mqttpki/pki/crl.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/index.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::store {

// CRLs are read by pki (the store calls no OpenSSL itself).
using pki::CrlInfo;
using pki::read_crl_info;

[[nodiscard]] std::filesystem::path crl_file(const CaLayout& layout);  // DIR/crl.pem

// DIR/crl.pem's details, nullopt when there is no CRL. Errc::bad_format naming the file when it is damaged.
[[nodiscard]] std::optional<CrlInfo> current_crl(const CaFolder& folder);

// The CRL over every revoked entry of the index, CRL number index.next_crl_number(), thisUpdate now -
// pki::backdate, nextUpdate now + days. The new number is committed first, in a transaction of its own (a CRL
// number is never reused), then DIR/crl.pem is replaced atomically. The caller holds the lock.
struct CrlWritten {
  std::filesystem::path path;
  std::string pem;
  std::uint64_t number = 0;
  std::size_t revoked = 0;
  TimePoint next_update{};
};
CrlWritten write_crl(const CaFolder& folder, Index& index, const CaMaterial& ca, int days, TimePoint now);


}  // namespace mqttpki::store
