#pragma once
// Revocation in the CA's records: what `mqttpki revoke` does. The caller holds the folder lock and commits.

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

struct RevokeResult {
  std::vector<IndexEntry> revoked;          // newly revoked
  std::vector<IndexEntry> already_revoked;  // matched but revoked before
  std::vector<IndexEntry> expired;          // matched NAME but expired: left alone (no longer verifies)
};

// NAME revokes every unexpired certificate issued under it, superseded ones included; otherwise the text is
// taken as a serial (any form normalize_serial() accepts) and that one certificate is revoked, expired or
// not. Errc::not_found when neither matches. The caller commits.
RevokeResult revoke(Index& index, std::string_view name_or_serial, pki::RevocationReason reason, TimePoint now);


}  // namespace mqttpki::store
