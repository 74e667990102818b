#include <mqttpki/error.hpp>
#include <mqttpki/store/revocation.hpp>

#include <fmt/format.h>

namespace mqttpki::store {

namespace fs = std::filesystem;

RevokeResult revoke(Index& index, std::string_view name_or_serial, pki::RevocationReason reason, TimePoint now) {
  RevokeResult result;
  const std::string reason_text(pki::to_string(reason));
  std::vector<std::string> serials;
  const auto named = index.by_name(name_or_serial);
  for (const auto& e : named) {
    if (e.status == CertStatus::revoked)
      result.already_revoked.push_back(e);
    else if (e.not_after <= now)
      result.expired.push_back(e);
    else
      serials.push_back(e.serial);
  }
  if (named.empty()) {
    std::optional<IndexEntry> found;
    try {
      found = index.find_serial(name_or_serial);
    } catch (const Error&) {  // not hex: neither a name nor a serial
    }
    if (!found)
      throw Error(Errc::not_found, fmt::format("'{}' is neither a certificate name nor a serial in the CA index; see "
                                               "`mqttpki list` for both",
                                               name_or_serial));
    if (found->status == CertStatus::revoked)
      result.already_revoked.push_back(*found);
    else
      serials.push_back(found->serial);
  }
  for (const auto& serial : serials) {
    index.revoke(serial, std::chrono::time_point_cast<std::chrono::seconds>(now), reason_text);
    result.revoked.push_back(*index.find_serial(serial));
  }
  return result;
}

}  // namespace mqttpki::store
