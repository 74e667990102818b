#pragma once
// The one issuance path (cfssl's signer.Sign(req) is the model): `sign`, `renew` and the renewal agent all issue
// through issue_certificate(), so the serial choice, the index entry, the validity cap and its one warning, and
// the certificate file are done one way. Commands read flags, call, print.
//
// A caller holds the folder lock (CaFolder::lock()), opens the index with it, and wraps one or more issuances
// in one transaction (renew --all commits in batches: one fsync per batch, not per certificate):
//
//   auto held = folder.lock();
//   auto index = folder.open_index(held);
//   auto tx = index.begin();
//   Issued issued = issue_certificate(index, ca, std::move(order));
//   auto staged = folder.stage_certificate_files(index, held);  // a full disk fails here: nothing recorded
//   tx.commit();
//   folder.publish_certificate_files(index, staged);            // renames only

#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/ca_loader.hpp>
#include <mqttpki/store/index.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mqttpki::store {

struct IssueOrder {
  pki::IssueRequest request;           // key, subject, SANs, profile, days, now, random
  std::string name;                    // DIR/issued/NAME.crt
  std::vector<std::string> supersede;  // serials the new certificate replaces (kept, marked superseded)
  // A certificate this CA issued outside mqttpki (the seed guide's openssl commands), recorded first and
  // superseded by the new one; adopt_file is where it was read from.
  std::optional<pki::Certificate> adopt;
  std::string adopt_file;
  // Names what the request came from in errors about it ("server.csr: the subject needs a CN"); errors about
  // the CA already name ca.crt.
  std::string source;
};

struct Issued {
  pki::Certificate certificate;
  IndexEntry entry;
  std::vector<std::string> warnings;  // validity capped at the CA's expiry; CSR extensions ignored
};

// Inside a transaction of `index`, under the folder lock: chooses a serial not in the index, issues with the
// CA's Issuer, records the entry with its bytes (and the adopted certificate), marks `supersede`, and lists
// the file for write_certificate_files(). Errors as pki::Issuer::issue (request errors prefixed with source).
Issued issue_certificate(Index& index, const CaMaterial& ca, IssueOrder order);

// The index entry for a certificate recorded as NAME with `profile`.
[[nodiscard]] IndexEntry make_entry(const pki::Certificate& cert, std::string_view name, std::string_view profile,
                                    TimePoint issued_at);

// What `sign` checks before issuing NAME: a valid certificate already named NAME needs `force` (then it is
// superseded: its serials are returned); a client CN that is the MQTT user name of another valid certificate
// with a different key is refused (Errc::policy), since use_identity_as_username makes CN the identity.
std::vector<std::string> check_name_free(const Index& index, const CaLayout& layout, std::string_view name,
                                         std::string_view cn, std::string_view key_sha256, pki::Profile profile,
                                         bool force, TimePoint now, std::string_view source);

}  // namespace mqttpki::store
