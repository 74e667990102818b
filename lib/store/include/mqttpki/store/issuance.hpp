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
// It is the three stages below in sequence.
Issued issue_certificate(Index& index, const CaMaterial& ca, IssueOrder order);

// The stages of issue_certificate(), for a caller that issues many at once: `renew --all` signs a batch on
// every core, then records it in one transaction on its own thread. Only record_order() touches the index.
//
// An order signed but not recorded: its certificate is not the CA's until record_order() adds it.
struct SignedOrder {
  IssueOrder order;
  pki::Issuer issuer;  // that signed it (and signs again if record_order() must change the serial)
  pki::IssueResult result;
  IndexEntry entry;  // as recorded
  std::string der;
};

// Checks the name and the request's names (errors prefixed with source) and, unless the request carries one
// already, draws a serial candidate from order.request.random; record_order() checks it against the index.
void prepare_order(IssueOrder& order);

// Issues a prepared order with `issuer`. Touches nothing shared but the Issuer (pki::Issuer::issue may run on
// several threads), so signings may run in parallel as long as order.request.random is safe to call from
// their threads (an empty one, RAND_bytes, is) or the serial was drawn in advance.
SignedOrder sign_order(const pki::Issuer& issuer, IssueOrder order);

// Inside a transaction of `index`: a serial already in the index (an astronomically rare draw, or another
// order of the same batch) is replaced by a fresh one and the order signed again; then the entry and its
// bytes are recorded (and the adopted certificate), `supersede` marked and the file queued.
Issued record_order(Index& index, SignedOrder signed_order);

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
