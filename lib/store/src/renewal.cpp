#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/issuance.hpp>
#include <mqttpki/store/renewal.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <ctime>
#include <exception>
#include <system_error>
#include <thread>
#include <unordered_set>

namespace mqttpki::store {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr auto day = std::chrono::hours{24};


// "30d", "12h", "90m", "45s": the shortest exact spelling parse_duration() accepts.
std::string format_window(std::chrono::seconds s) {
  const auto n = s.count();
  if (n != 0 && n % 86400 == 0) return fmt::format("{}d", n / 86400);
  if (n != 0 && n % 3600 == 0) return fmt::format("{}h", n / 3600);
  if (n != 0 && n % 60 == 0) return fmt::format("{}m", n / 60);
  return fmt::format("{}s", n);
}

std::string expiry_phrase(TimePoint not_after, TimePoint now) {
  const long days = pki::days_between(now, not_after);
  if (not_after <= now) return fmt::format("expired on {} ({} days ago)", pki::format_date(not_after), -days);
  return fmt::format("expires on {} (in {} days)", pki::format_date(not_after), days);
}

pki::Profile profile_of(const pki::Certificate& cert) {
  const auto eku = cert.extended_key_usage();
  return std::find(eku.begin(), eku.end(), "serverAuth") != eku.end() ? pki::Profile::server : pki::Profile::client;
}

pki::Profile profile_from_entry(std::string_view recorded, const pki::Certificate& cert) {
  try {
    if (!recorded.empty()) return pki::parse_profile(recorded);
  } catch (const Error&) {  // an index written by hand or by a newer version: fall back to the certificate
  }
  return profile_of(cert);
}

// Runs f; a per-certificate refusal fails the item (and f's result is dropped), folder-wide errors (I/O on the
// index, the lock) propagate.
template <typename F>
bool or_fail(RenewItem& item, F&& f) {
  try {
    f();
    return true;
  } catch (const Error& e) {
    if (e.code() == Errc::io || e.code() == Errc::locked) throw;
    item.status = RenewStatus::failed;
    item.message = e.what();
    return false;
  }
}

// A renewal decided and built: the order to sign, or (no order) the item is final.
struct RenewJob {
  RenewItem item;
  std::optional<IssueOrder> order;
  int days = 0;
};

// A renewal signed, not yet recorded: the signed order, or (none) the item is final.
struct SignedRenewal {
  RenewItem item;
  std::optional<SignedOrder> signed_order;
  int days = 0;
};

// Builds the order that issues `request` under the CA as NAME, superseding `supersede` (and adopting `adopt`);
// the item fails instead when the CA's expiry leaves a renewal nothing to gain (with require_gain). Pure.
RenewJob make_job(const CaMaterial& ca, pki::IssueRequest request, RenewItem item, std::vector<std::string> supersede,
                  std::optional<pki::Certificate> adopt, bool require_gain, int days, const LeafRenewOptions& options) {
  const TimePoint now = options.now;
  request.days = days;
  request.now = now;
  request.random = options.random;
  const TimePoint ca_end = ca.cert.not_after();
  if (now + days * day > ca_end && require_gain && ca_end <= item.old_not_after + 1h) {
    item.status = RenewStatus::failed;
    item.message = fmt::format(
        "the CA certificate {} expires on {}, no later than this certificate, so renewing gains nothing; renew the "
        "CA first with `mqttpki renew --ca` (same key: issued certificates keep working), then renew again",
        ca.cert_path.string(), pki::format_date(ca_end));
    return RenewJob{std::move(item), std::nullopt, days};
  }
  IssueOrder order{std::move(request), item.name, std::move(supersede), std::move(adopt), {}, {}};
  if (order.adopt) order.adopt_file = item.cert_path.string();
  return RenewJob{std::move(item), std::move(order), days};
}

// Signs the job with `issuer` (nullptr: the CA's, made here). With an issuer given it touches nothing shared
// but the Issuer, so renew_names() runs it on several threads.
SignedRenewal sign_job(const CaMaterial& ca, const pki::Issuer* issuer, RenewJob job) {
  SignedRenewal out{std::move(job.item), std::nullopt, job.days};
  if (!job.order) return out;
  or_fail(out.item, [&] {
    prepare_order(*job.order);
    out.signed_order = sign_order(issuer ? *issuer : ca.issuer(), std::move(*job.order));
  });
  return out;
}

// Records a signed renewal inside the caller's transaction and completes its item.
RenewItem record_job(Index& index, SignedRenewal s, const LeafRenewOptions& options) {
  RenewItem& item = s.item;
  if (!s.signed_order) return std::move(item);
  std::optional<Issued> issued;
  if (!or_fail(item, [&] { issued = record_order(index, std::move(*s.signed_order)); })) return std::move(item);
  const int days = s.days;
  item.status = RenewStatus::renewed;
  item.new_serial = issued->entry.serial;
  item.new_not_after = issued->certificate.not_after();
  item.cert_path = index.path().parent_path() / issued->entry.file;
  item.warnings = std::move(issued->warnings);
  if (options.within && days * day <= *options.within)
    item.warnings.push_back(fmt::format("it lives {} days, no longer than the {} renewal window, so every run with "
                                        "--within {} renews it again; give it a longer validity with --days",
                                        days, format_window(*options.within), format_window(*options.within)));
  return std::move(item);
}

// Issues `request` under the CA as NAME, superseding `supersede` (and adopting `adopt`), inside the caller's
// transaction: make_job, sign_job and record_job in sequence. Per-certificate problems become a failed item;
// index and file errors propagate.
RenewItem renew_with(Index& index, const CaMaterial& ca, pki::IssueRequest request, RenewItem item,
                     std::vector<std::string> supersede, std::optional<pki::Certificate> adopt, bool require_gain,
                     int days, const LeafRenewOptions& options) {
  RenewJob job = make_job(ca, std::move(request), std::move(item), std::move(supersede), std::move(adopt),
                          require_gain, days, options);
  return record_job(index, sign_job(ca, nullptr, std::move(job)), options);
}

// The bytes the database keeps of NAME's current certificate (a file a person edited does not matter).
// nullopt (and item failed) when they are missing: only for entries migrated from 0.1 without their file.
std::optional<std::string> indexed_der(const Index& index, const IndexEntry& entry, RenewItem& item) {
  auto der = index.certificate_der(entry.serial);
  if (!der) {
    item.status = RenewStatus::failed;
    item.message = fmt::format("{} does not hold the bytes of {}'s certificate (serial {}); re-issue it with "
                               "`mqttpki sign --force`",
                               index.path().string(), entry.name, entry.serial);
  }
  return der;
}

std::optional<pki::Certificate> load_indexed(const Index& index, const IndexEntry& entry, RenewItem& item) {
  const auto der = indexed_der(index, entry, item);
  if (!der) return std::nullopt;
  return pki::Certificate::load(pki::as_bytes(*der));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------

int validity_days(TimePoint not_before, TimePoint not_after) {
  const auto span = std::chrono::duration_cast<std::chrono::seconds>(not_after - not_before - pki::backdate);
  const double days = std::round(static_cast<double>(span.count()) / 86400.0);
  return std::clamp(static_cast<int>(days), 1, 36500);
}

fs::path archive_dir(const CaLayout& layout) { return layout.dir / "archive"; }

CaRenewResult renew_ca_certificate(const CaMaterial& ca, const fs::path& archive, const CaRenewOptions& options) {
  pki::RenewCaOptions renew;
  renew.days = options.days.value_or(validity_days(ca.cert.not_before(), ca.cert.not_after()));
  renew.now = options.now;
  renew.random = options.random;
  pki::Certificate fresh = pki::renew_ca(ca.key, ca.cert, renew);

  // The old certificate is archived (its original bytes) before ca.crt is replaced: a crash in between leaves
  // the old ca.crt in place and a spare copy.
  ensure_dir(archive, mode_public_dir);
  const std::string stamp = utc_stamp(options.now);
  fs::path archived = archive / fmt::format("ca-{}.crt", stamp);
  for (int i = 1; path_exists(archived); ++i) archived = archive / fmt::format("ca-{}-{}.crt", stamp, i);
  write_file_atomic(archived, read_file(ca.cert_path), mode_public, /*overwrite=*/false);
  write_file_atomic(ca.cert_path, fresh.to_pem(), mode_public, /*overwrite=*/true);
  return CaRenewResult{ca.cert, fresh, archived, ca.cert_path};
}

// ---------------------------------------------------------------------------------------------------------

std::string_view to_string(RenewStatus status) noexcept {
  switch (status) {
    case RenewStatus::renewed:
      return "renewed";
    case RenewStatus::not_due:
      return "not due";
    case RenewStatus::failed:
      return "failed";
  }
  return "failed";
}

bool is_due(TimePoint not_after, TimePoint now, std::optional<std::chrono::seconds> within) {
  return !within || not_after - now <= *within;
}

namespace {

// renew_name's first stage, on the index's thread: NAME's current entry, whether it is due, and its bytes.
struct NamePlan {
  RenewItem item;
  std::optional<std::string> der;  // none: the item is final (not due, unknown NAME, bytes missing)
  std::string profile;             // as recorded
  std::vector<std::string> supersede;
  std::string serial;  // the new certificate's serial candidate, drawn here: options.random stays on this thread
};

NamePlan plan_name(const Index& index, const CaMaterial& ca, std::string_view name, const LeafRenewOptions& options) {
  check_ca_usable(ca, options.now);
  NamePlan plan;
  RenewItem& item = plan.item;
  item.name = std::string(name);
  const auto current = index.valid_by_name(name);
  if (current.empty()) {
    item.message = fmt::format("no valid certificate named '{}' in {} (see `mqttpki list`; a revoked one needs a new "
                               "certificate from `mqttpki sign`)",
                               name, index.path().parent_path().string());
    return plan;
  }
  const IndexEntry& entry = current.front();
  item.old_serial = entry.serial;
  item.old_not_after = entry.not_after;
  if (!is_due(entry.not_after, options.now, options.within)) {
    item.status = RenewStatus::not_due;
    item.message = fmt::format("{}, not within {}", expiry_phrase(entry.not_after, options.now),
                               format_window(*options.within));
    return plan;
  }
  plan.der = indexed_der(index, entry, item);
  plan.profile = entry.profile;
  for (const IndexEntry& e : current) plan.supersede.push_back(e.serial);
  plan.serial = pki::random_serial(options.random);
  return plan;
}

// renew_name's second stage, without the index: decodes the old certificate (a damaged one throws) and signs
// its renewal (with `issuer` given, safe on several threads at once).
SignedRenewal sign_name(const CaMaterial& ca, const pki::Issuer* issuer, NamePlan plan,
                        const LeafRenewOptions& options) {
  if (!plan.der) return SignedRenewal{std::move(plan.item), std::nullopt, 0};
  const pki::Certificate old = pki::Certificate::load(pki::as_bytes(*plan.der));
  pki::IssueRequest request;
  request.public_key = old.public_key();
  request.subject = old.subject();
  request.sans = old.sans();
  request.profile = profile_from_entry(plan.profile, old);
  request.serial = std::move(plan.serial);
  const int days = options.days.value_or(validity_days(old.not_before(), old.not_after()));
  RenewJob job = make_job(ca, std::move(request), std::move(plan.item), std::move(plan.supersede), std::nullopt,
                          /*require_gain=*/options.within.has_value(), days, options);
  return sign_job(ca, issuer, std::move(job));
}

// Called in a catch block for a NAME's renewal: a per-certificate Error becomes a failed item that holds only
// why (as `renew` reports one); folder-wide errors (I/O, the lock, the CA expired) propagate.
RenewItem failed_name(const std::string& name) {
  try {
    throw;
  } catch (const Error& e) {
    if (e.code() == Errc::io || e.code() == Errc::locked || e.code() == Errc::expired) throw;
    RenewItem failed;
    failed.name = name;
    failed.status = RenewStatus::failed;
    failed.message = e.what();
    return failed;
  }
}

// One NAME of a round: planned on the index's thread, signed on any, recorded on the index's thread.
struct Slot {
  std::optional<RenewItem> done;  // final at planning (not due, unknown, bytes missing, or failed)
  std::optional<NamePlan> plan;
  std::optional<SignedRenewal> signed_renewal;
  std::exception_ptr error;  // from signing, rethrown in its turn when recorded
};

}  // namespace

// A round is a run of NAMEs that are all different, so no renewal's record changes another's plan. The first
// round is planned and its signing started by the constructor; finish() signs what is left on this thread,
// records the round, then does the later rounds (only a NAME given twice makes one) start to end.
struct RenewalBatch::State {
  const CaMaterial& ca;
  LeafRenewOptions options;
  std::vector<std::string> names;
  std::optional<pki::Issuer> issuer;  // none: the CA cannot issue, each renewal reports why (renew_name)
  std::size_t round_begin = 0;
  std::size_t round_end = 0;
  std::vector<Slot> slots;  // the planned round's
  std::atomic<std::size_t> next{0};
  std::vector<std::jthread> helpers;  // destroyed (stopped, joined) before the rest

  State(const CaMaterial& c, LeafRenewOptions o, std::vector<std::string> n)
      : ca(c), options(std::move(o)), names(std::move(n)) {}
  ~State() { helpers.clear(); }

  // Signs the planned round's slots until none is left or `stop` is requested.
  void sign(const std::stop_token& stop) {
    for (std::size_t i = next++; i < slots.size() && !stop.stop_requested(); i = next++) {
      if (slots[i].done) continue;
      try {
        slots[i].signed_renewal = sign_name(ca, &*issuer, std::move(*slots[i].plan), options);
      } catch (...) {
        slots[i].error = std::current_exception();
      }
    }
  }

  // Plans the round from round_end and, when it has two NAMEs or more and the CA can issue, starts its signing
  // on hardware_concurrency() - 1 helper threads. Returns false when the round is left to renew_name.
  bool start_round(const Index& index) {
    round_begin = round_end;
    std::unordered_set<std::string_view> seen;
    while (round_end < names.size() && seen.insert(names[round_end]).second) ++round_end;
    if (!issuer || round_end - round_begin < 2) return false;
    slots.assign(round_end - round_begin, Slot{});
    next = 0;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      try {
        slots[i].plan = plan_name(index, ca, names[round_begin + i], options);
        if (!slots[i].plan->der) slots[i].done = std::move(slots[i].plan->item);
      } catch (const Error&) {
        slots[i].done = failed_name(names[round_begin + i]);
      }
    }
    const unsigned threads = std::max(1U, std::thread::hardware_concurrency());
    try {
      for (unsigned t = 1; t < threads && t < slots.size(); ++t)
        helpers.emplace_back([this](const std::stop_token& stop) { sign(stop); });
    } catch (const std::system_error&) {  // no more threads: fewer helpers (finish() signs in any case)
    }
    return true;
  }

  // Finishes the round start_round() began: signs what is left here, waits for the helpers, records in order.
  void finish_round(Index& index, bool planned, std::vector<RenewItem>& out) {
    if (!planned) {
      for (std::size_t i = round_begin; i < round_end; ++i) {
        try {
          out.push_back(renew_name(index, ca, names[i], options));
        } catch (const Error&) {
          out.push_back(failed_name(names[i]));
        }
      }
      return;
    }
    sign(std::stop_token{});
    helpers.clear();  // joins
    for (std::size_t i = 0; i < slots.size(); ++i) {
      try {
        if (slots[i].error) std::rethrow_exception(slots[i].error);
        out.push_back(slots[i].done ? std::move(*slots[i].done)
                                    : record_job(index, std::move(*slots[i].signed_renewal), options));
      } catch (const Error&) {
        out.push_back(failed_name(names[round_begin + i]));
      }
    }
  }
};

RenewalBatch::RenewalBatch(const Index& index, const CaMaterial& ca, std::vector<std::string> names,
                           const LeafRenewOptions& options)
    : state_(std::make_unique<State>(ca, options, std::move(names))) {
  try {
    state_->issuer = ca.issuer();
  } catch (const Error&) {  // a CA that cannot issue: each due renewal reports it, as renew_name does
  }
  first_planned_ = state_->start_round(index);
}

RenewalBatch::RenewalBatch(RenewalBatch&&) noexcept = default;
RenewalBatch::~RenewalBatch() = default;

std::vector<RenewItem> RenewalBatch::finish(Index& index) {
  State& st = *state_;
  std::vector<RenewItem> items;
  items.reserve(st.names.size());
  st.finish_round(index, first_planned_, items);
  while (st.round_end < st.names.size()) {
    const bool planned = st.start_round(index);
    st.finish_round(index, planned, items);
  }
  return items;
}

RenewItem renew_name(Index& index, const CaMaterial& ca, std::string_view name, const LeafRenewOptions& options) {
  return record_job(index, sign_name(ca, nullptr, plan_name(index, ca, name, options), options), options);
}

std::vector<RenewItem> renew_names(Index& index, const CaMaterial& ca, std::span<const std::string> names,
                                   const LeafRenewOptions& options) {
  return RenewalBatch(index, ca, std::vector<std::string>(names.begin(), names.end()), options).finish(index);
}

namespace {

// The refusal for a certificate file whose serial the index knows but that is not current.
RenewItem known_item(const IndexEntry& known, const std::string& label) {
  RenewItem item;
  item.name = known.name;
  item.old_serial = known.serial;
  item.old_not_after = known.not_after;
  item.message = known.status == CertStatus::revoked
                     ? fmt::format("{} (serial {}) is revoked; issue a new certificate with `mqttpki sign`", label,
                                   known.serial)
                     : fmt::format("{} (serial {}) was already renewed (superseded by {}); renew '{}' instead", label,
                                   known.serial, known.superseded_by, known.name);
  return item;
}

std::string adopted_name(const pki::Certificate& cert, const ImportOptions& import, const std::string& label) {
  if (import.name) {
    validate_name(*import.name);
    return *import.name;
  }
  if (const std::string stem = fs::path(label).stem().string(); !import.source_label.empty() && is_valid_name(stem))
    return stem;
  if (auto cn = cert.subject().common_name(); cn && is_valid_name(*cn)) return *cn;
  throw Error(Errc::invalid_argument, fmt::format("{}: cannot derive a certificate name; pass --name NAME", label));
}

}  // namespace

RenewItem renew_certificate(Index& index, const CaMaterial& ca, const pki::Certificate& cert,
                            const ImportOptions& import, const LeafRenewOptions& options) {
  check_ca_usable(ca, options.now);
  const std::string label = import.source_label.empty() ? std::string("the certificate") : import.source_label;
  if (!signed_by(cert, ca.cert))
    throw Error(Errc::mismatch, fmt::format("{} was not issued by the CA {} (its issuer is {}); renew it with the CA "
                                            "that signed it",
                                            label, ca.cert_path.string(), cert.issuer().to_string()));
  if (cert.is_ca())
    throw Error(Errc::policy, fmt::format("{} is a CA certificate; renew a CA with `mqttpki renew --ca`", label));
  if (const auto known = index.find_serial(cert.serial_hex())) {
    if (known->status == CertStatus::valid) return renew_name(index, ca, known->name, options);
    return known_item(*known, label);
  }

  // Issued by this CA outside mqttpki: adopt it under a NAME.
  RenewItem item;
  item.old_serial = cert.serial_hex();
  item.old_not_after = cert.not_after();
  item.name = adopted_name(cert, import, label);
  if (const auto taken = index.valid_by_name(item.name); !taken.empty()) {
    item.message = fmt::format("'{}' already names another certificate in the index (serial {}); pass --name to "
                               "adopt {} under a different name",
                               item.name, taken.front().serial, label);
    return item;
  }
  if (!is_due(cert.not_after(), options.now, options.within)) {
    item.status = RenewStatus::not_due;
    item.message = fmt::format("{}, not within {}", expiry_phrase(cert.not_after(), options.now),
                               format_window(*options.within));
    return item;
  }
  pki::IssueRequest request;
  request.public_key = cert.public_key();
  request.subject = cert.subject();
  request.sans = cert.sans();
  for (const auto& san : import.extra_sans)
    if (std::find(request.sans.begin(), request.sans.end(), san) == request.sans.end()) request.sans.push_back(san);
  request.profile = import.profile.value_or(profile_of(cert));
  item.cert_path = fs::absolute(fs::path(import.source_label));  // where the adopted certificate came from
  const int days = options.days.value_or(validity_days(cert.not_before(), cert.not_after()));
  return renew_with(index, ca, std::move(request), std::move(item), {}, cert,
                    /*require_gain=*/options.within.has_value(), days, options);
}

RenewItem rekey_name(Index& index, const CaMaterial& ca, std::string_view name, const pki::Csr& csr,
                     const LeafRenewOptions& options) {
  check_ca_usable(ca, options.now);
  const auto current = index.valid_by_name(name);
  if (current.empty())
    throw Error(Errc::not_found, fmt::format("no valid certificate named '{}' in {} to re-key; issue a first one with "
                                             "`mqttpki sign`",
                                             name, index.path().parent_path().string()));
  const IndexEntry& entry = current.front();
  RenewItem item;
  item.name = std::string(name);
  item.old_serial = entry.serial;
  item.old_not_after = entry.not_after;

  csr.verify_signature();
  pki::IssueRequest request = pki::from_csr(csr);
  RenewItem scratch;
  const std::optional<pki::Certificate> old = load_indexed(index, entry, scratch);
  if (request.sans.empty() && old) request.sans = old->sans();
  request.profile = old ? profile_from_entry(entry.profile, *old) : pki::parse_profile(entry.profile);
  std::vector<std::string> supersede;
  for (const IndexEntry& e : current) supersede.push_back(e.serial);
  const int days = options.days.value_or(validity_days(entry.not_before, entry.not_after));
  const bool same_key = old && request.public_key == old->public_key();
  RenewItem done = renew_with(index, ca, std::move(request), std::move(item), std::move(supersede), std::nullopt,
                              /*require_gain=*/false, days, options);
  if (same_key)
    done.warnings.push_back("the CSR carries the same key as the old certificate; a re-key normally uses a new key");
  return done;
}

}  // namespace mqttpki::store
