#include <mqttpki/error.hpp>
#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/crl.hpp>
#include <mqttpki/store/files.hpp>

#include <fmt/format.h>

namespace mqttpki::store {

namespace fs = std::filesystem;

namespace {
constexpr auto day = std::chrono::hours{24};
}  // namespace

fs::path crl_file(const CaLayout& layout) { return layout.dir / "crl.pem"; }

std::optional<CrlInfo> current_crl(const CaFolder& folder) {
  const fs::path path = crl_file(folder.layout());
  if (!path_exists(path)) return std::nullopt;
  try {
    return read_crl_info(read_file(path));
  } catch (const Error& e) {
    if (e.code() == Errc::bad_format)
      throw Error(Errc::bad_format,
                  fmt::format("{}: {}; write a fresh one with `mqttpki crl`", path.string(), e.what()));
    throw;
  }
}

CrlWritten write_crl(const CaFolder& folder, Index& index, const CaMaterial& ca, int days, TimePoint now) {
  if (days < 1 || days > 3650)
    throw Error(Errc::invalid_argument, fmt::format("--days {} is out of range; give 1 to 3650 (e.g. --days 30)", days));
  check_ca_usable(ca, now);
  pki::CrlOptions options;
  for (const auto& e : index.revoked()) {
    pki::RevokedEntry r;
    r.serial_hex = e.serial;
    r.revoked_at = e.revoked_at.value_or(now);
    try {
      r.reason = e.revocation_reason.empty() ? pki::RevocationReason::unspecified
                                             : pki::parse_revocation_reason(e.revocation_reason);
    } catch (const Error&) {
      r.reason = pki::RevocationReason::unspecified;
    }
    options.revoked.push_back(std::move(r));
  }
  // thisUpdate is backdated like certificates: a broker whose clock runs a little behind would otherwise see a
  // CRL that is "not yet valid" and refuse every client.
  options.this_update = now - pki::backdate;
  options.next_update = now + days * day;
  // Sign before taking a number, so a signing failure does not burn one; save the number before writing the
  // file, so a crash can never publish two CRLs with the same number.
  options.crl_number = index.crl_number() + 1;
  std::string pem = pki::make_crl(ca.cert, ca.key, options);
  // Staged before the number is saved, so a full disk fails with nothing changed; after the commit only the
  // rename is left, which needs no new blocks.
  const fs::path path = crl_file(folder.layout());
  StagedFile staged(path, pem, mode_public, /*overwrite=*/true);
  auto tx = index.begin();
  const std::uint64_t number = index.next_crl_number();
  tx.commit();
  staged.publish();
  return CrlWritten{path, std::move(pem), number, options.revoked.size(), options.next_update};
}

}  // namespace mqttpki::store
