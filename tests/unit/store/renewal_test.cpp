// Renewal, revocation and CRLs over a real CA folder in a temp directory, with the clock passed in: no test
// waits for anything to expire.

#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/crl.hpp>
#include <mqttpki/pki/csr.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/pki/verify.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/issuance.hpp>
#include <mqttpki/store/renewal.hpp>
#include <mqttpki/store/revocation.hpp>

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <string>

namespace fs = std::filesystem;
using namespace mqttpki;
using std::chrono::hours;

namespace {

constexpr auto day = hours{24};
const pki::TimePoint t0 = std::chrono::system_clock::from_time_t(1767225600);  // 2026-01-01T00:00:00Z

store::PassphraseRequest no_passphrase() {
  store::PassphraseRequest request;
  request.use_env = false;
  request.allow_prompt = false;
  return request;
}

using mqttpki::test::TempDir;

// A CA folder with a CA valid for ca_days from t0.
struct Fixture {
  TempDir tmp;
  fs::path dir = tmp.path / "pki";
  pki::PrivateKey ca_key = pki::PrivateKey::generate(pki::KeyType::p256);
  store::CaFolder folder;
  store::CaMaterial ca;

  explicit Fixture(int ca_days = 3650)
      : folder(make_folder(ca_days)), ca(store::load_ca(folder, no_passphrase())) {}

  store::CaFolder make_folder(int ca_days) {
    pki::CaOptions options;
    options.subject = pki::Name::build("Test CA", "Home");
    options.days = ca_days;
    options.now = t0;
    const auto cert = pki::make_ca(ca_key, options);
    return store::CaFolder::create(dir, cert.to_pem(), ca_key.to_pem(), false, t0).folder;
  }

  // Runs f(index) as a command does: under the lock, in one transaction, then the certificate files written.
  template <typename F>
  auto in_transaction(F&& f) {
    const auto held = folder.lock();
    auto index = folder.open_index(held);
    auto tx = index.begin();
    auto result = f(index);
    tx.commit();
    folder.write_certificate_files(index, held);
    return result;
  }

  // Issues NAME at `when` for `days` through the one issuance path, as `mqttpki sign` does.
  pki::Certificate issue(const std::string& name, pki::TimePoint when, int days, pki::Profile profile,
                         const pki::PrivateKey& key, std::vector<pki::GeneralName> sans = {}) {
    store::IssueOrder order;
    order.request.public_key = key.public_key();
    order.request.subject = pki::Name::build(name, "Home");
    order.request.sans = std::move(sans);
    order.request.profile = profile;
    order.request.days = days;
    order.request.now = when;
    order.name = name;
    return in_transaction([&](store::Index& index) { return store::issue_certificate(index, ca, order); }).certificate;
  }

  store::RenewItem renew_name(const store::CaMaterial& with, const std::string& name, const store::LeafRenewOptions& o) {
    return in_transaction([&](store::Index& index) { return store::renew_name(index, with, name, o); });
  }
  store::RenewItem renew_name(const std::string& name, const store::LeafRenewOptions& o) { return renew_name(ca, name, o); }
  store::RenewItem renew_certificate(const pki::Certificate& cert, const store::ImportOptions& import,
                                     const store::LeafRenewOptions& o) {
    return in_transaction([&](store::Index& index) { return store::renew_certificate(index, ca, cert, import, o); });
  }
  store::RenewItem rekey_name(const std::string& name, const pki::Csr& csr, const store::LeafRenewOptions& o) {
    return in_transaction([&](store::Index& index) { return store::rekey_name(index, ca, name, csr, o); });
  }

  pki::Certificate file_cert(const std::string& name) const {
    return pki::Certificate::load(store::read_file(folder.layout().issued_cert(name)));
  }
};

store::LeafRenewOptions at(pki::TimePoint now, std::optional<std::chrono::seconds> within = std::nullopt) {
  store::LeafRenewOptions o;
  o.now = now;
  o.within = within;
  return o;
}

}  // namespace

TEST_CASE("validity_days takes the backdate off and rounds") {
  CHECK(store::validity_days(t0 - pki::backdate, t0 + 365 * day) == 365);
  CHECK(store::validity_days(t0, t0 + 10 * day) == 10);
  CHECK(store::validity_days(t0, t0 + hours{1}) == 1);
}

TEST_CASE("is_due: no window means always; otherwise expiring within the window") {
  CHECK(store::is_due(t0 + 100 * day, t0, std::nullopt));
  CHECK(store::is_due(t0 + 10 * day, t0, std::chrono::seconds(30 * day)));
  CHECK_FALSE(store::is_due(t0 + 10 * day, t0, std::chrono::seconds(5 * day)));
  CHECK(store::is_due(t0 - day, t0, std::chrono::seconds(5 * day)));  // already expired
}

TEST_CASE("a certificate that expires in 10 days is renewed with the same key, subject, SANs and profile") {
  Fixture f;
  const auto key = pki::PrivateKey::generate(pki::KeyType::p256);
  const auto old = f.issue("broker", t0, 40, pki::Profile::server, key, {pki::parse_san("DNS:mqtt.example.com")});
  const auto now = t0 + 30 * day;  // 10 days left

  auto index = f.folder.open_index();
  SECTION("a 5-day window: not due, nothing changes") {
    const auto item = f.renew_name("broker", at(now, std::chrono::seconds(5 * day)));
    CHECK(item.status == store::RenewStatus::not_due);
    CHECK(item.message.find("in 10 days") != std::string::npos);
    CHECK(item.message.find("not within 5d") != std::string::npos);
    CHECK(f.folder.open_index().entries().size() == 1);
    CHECK(f.file_cert("broker") == old);
  }
  SECTION("a 30-day window: renewed") {
    const auto item = f.renew_name("broker", at(now, std::chrono::seconds(30 * day)));
    REQUIRE(item.status == store::RenewStatus::renewed);
    CHECK(item.old_serial == old.serial_hex());
    CHECK(item.new_serial != old.serial_hex());
    CHECK(item.warnings.empty());

    const auto fresh = f.file_cert("broker");
    CHECK(fresh.serial_hex() == item.new_serial);
    CHECK(fresh.public_key() == old.public_key());
    CHECK(fresh.subject() == old.subject());
    CHECK(fresh.sans() == old.sans());
    CHECK(fresh.extended_key_usage() == std::vector<std::string>{"serverAuth"});
    // The original's validity length (40 days) from now.
    CHECK(fresh.not_after() - (now + 40 * day) < std::chrono::seconds(2));
    CHECK(pki::verify_chain({f.ca.cert}, fresh, pki::Purpose::server, now, std::string("mqtt.example.com")).ok);

    const auto saved = f.folder.open_index();
    REQUIRE(saved.entries().size() == 2);
    const auto before = saved.find_serial(old.serial_hex());
    REQUIRE(before.has_value());
    CHECK(before->status == store::CertStatus::superseded);
    CHECK(before->superseded_by == item.new_serial);
    const auto after = saved.find_serial(item.new_serial);
    REQUIRE(after.has_value());
    CHECK(after->status == store::CertStatus::valid);
    CHECK(after->profile == "server");
    CHECK(after->name == "broker");
    CHECK(after->file == "issued/broker.crt");

    // A second run in the same window finds the fresh certificate: nothing due.
    auto again = f.folder.open_index();
    CHECK(f.renew_name("broker", at(now, std::chrono::seconds(30 * day))).status ==
          store::RenewStatus::not_due);
  }
  SECTION("--days overrides the length") {
    auto options = at(now);
    options.days = 7;
    const auto item = f.renew_name("broker", options);
    REQUIRE(item.status == store::RenewStatus::renewed);
    CHECK(item.new_not_after - (now + 7 * day) < std::chrono::seconds(2));
  }
}

TEST_CASE("an already expired certificate is renewed from now") {
  Fixture f;
  const auto key = pki::PrivateKey::generate(pki::KeyType::ed25519);
  const auto old = f.issue("sensor-1", t0, 10, pki::Profile::client, key);
  const auto now = t0 + 50 * day;
  auto index = f.folder.open_index();
  const auto item = f.renew_name("sensor-1", at(now, std::chrono::seconds(30 * day)));
  REQUIRE(item.status == store::RenewStatus::renewed);
  const auto fresh = f.file_cert("sensor-1");
  CHECK(fresh.public_key() == old.public_key());
  CHECK(fresh.not_before() < now);
  CHECK(fresh.not_after() > now + 9 * day);
  CHECK(pki::verify_chain({f.ca.cert}, fresh, pki::Purpose::client, now).ok);
  CHECK_FALSE(pki::verify_chain({f.ca.cert}, old, pki::Purpose::client, now).ok);
}

TEST_CASE("the CA expiring before the new validity: capped with a warning, or refused when nothing is gained") {
  Fixture f(60);  // the CA ends at t0 + 60 days
  const auto key = pki::PrivateKey::generate(pki::KeyType::p256);

  SECTION("capped") {
    f.issue("sensor-1", t0, 40, pki::Profile::client, key);
    auto index = f.folder.open_index();
    const auto item = f.renew_name("sensor-1", at(t0 + 35 * day));
    REQUIRE(item.status == store::RenewStatus::renewed);
    CHECK(item.new_not_after == f.ca.cert.not_after());
    REQUIRE_FALSE(item.warnings.empty());
    bool says_so = false;
    for (const auto& w : item.warnings) says_so = says_so || w.find("mqttpki renew --ca") != std::string::npos;
    CHECK(says_so);
  }
  SECTION("no gain in the cron mode: failed with the fix") {
    f.issue("sensor-1", t0 + 20 * day, 40, pki::Profile::client, key);  // already capped at the CA's end
    auto index = f.folder.open_index();
    const auto item =
        f.renew_name("sensor-1", at(t0 + 50 * day, std::chrono::seconds(30 * day)));
    CHECK(item.status == store::RenewStatus::failed);
    CHECK(item.message.find("mqttpki renew --ca") != std::string::npos);
    CHECK(f.folder.open_index().entries().size() == 1);
    // Asked for explicitly (no window), it is renewed and capped, with the warning.
    const auto asked = f.renew_name("sensor-1", at(t0 + 50 * day));
    CHECK(asked.status == store::RenewStatus::renewed);
    CHECK(asked.new_not_after == f.ca.cert.not_after());
    CHECK_FALSE(asked.warnings.empty());
  }
}

TEST_CASE("an expired CA is refused with the fix; renew --ca brings old leaves back") {
  Fixture f(60);
  const auto key = pki::PrivateKey::generate(pki::KeyType::p256);
  (void)f.issue("sensor-1", t0, 30, pki::Profile::client, key);
  const auto now = t0 + 61 * day;
  auto index = f.folder.open_index();
  try {
    (void)f.renew_name("sensor-1", at(now));
    FAIL("expected Errc::expired");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::expired);
    CHECK(std::string(e.what()).find("mqttpki renew --ca") != std::string::npos);
  }

  // Renew the CA (expired already): same key, subject, SKI; the old ca.crt is archived.
  const std::string old_ca_pem = store::read_file(f.folder.layout().ca_cert);
  store::CaRenewOptions options;
  options.now = now;
  options.days = 365;
  const auto result = store::renew_ca_certificate(f.ca, store::archive_dir(f.folder.layout()), options);
  CHECK(result.new_cert.subject() == f.ca.cert.subject());
  CHECK(result.new_cert.subject_key_id_hex() == f.ca.cert.subject_key_id_hex());
  CHECK(result.new_cert.serial_hex() != f.ca.cert.serial_hex());
  CHECK(result.archived.parent_path() == f.dir / "archive");
  CHECK(result.archived.filename().string().starts_with("ca-"));
  CHECK(store::read_file(result.archived) == old_ca_pem);
  CHECK(pki::Certificate::load(store::read_file(f.folder.layout().ca_cert)) == result.new_cert);

  // With the renewed CA the expired leaf renews again.
  const auto renewed_ca = store::load_ca(f.folder, no_passphrase());
  auto index2 = f.folder.open_index();
  const auto item = f.renew_name(renewed_ca, "sensor-1", at(now));
  CHECK(item.status == store::RenewStatus::renewed);
  CHECK(item.warnings.empty());
}

TEST_CASE("renew --ca keeps certificates issued under the old CA verifying") {
  Fixture f(365);
  const auto key = pki::PrivateKey::generate(pki::KeyType::p256);
  const auto leaf = f.issue("sensor-1", t0, 300, pki::Profile::client, key);
  store::CaRenewOptions options;
  options.now = t0 + 100 * day;
  const auto result = store::renew_ca_certificate(f.ca, store::archive_dir(f.folder.layout()), options);
  // Default: the old CA's validity length.
  CHECK(result.new_cert.not_after() - (options.now + 365 * day) < std::chrono::seconds(2));
  CHECK(pki::verify_chain({result.new_cert}, leaf, pki::Purpose::client, t0 + 101 * day).ok);
  // And the archive name never clashes.
  const auto again = store::renew_ca_certificate(store::load_ca(f.folder, no_passphrase()),
                                                 store::archive_dir(f.folder.layout()), options);
  CHECK(again.archived != result.archived);
}

TEST_CASE("valid_names lists each NAME with a valid certificate once") {
  Fixture f;
  const auto key = pki::PrivateKey::generate(pki::KeyType::p256);
  f.issue("a", t0, 30, pki::Profile::client, key);
  f.issue("b", t0, 30, pki::Profile::client, key);
  auto index = f.folder.open_index();
  REQUIRE(f.renew_name("a", at(t0 + day)).status == store::RenewStatus::renewed);
  index.revoke(index.valid_by_name("b").front().serial, t0, "keyCompromise");
  CHECK(index.valid_names() == std::vector<std::string>{"a"});
  const auto missing = f.renew_name("b", at(t0 + day));
  CHECK(missing.status == store::RenewStatus::failed);
}

TEST_CASE("renewal reads the certificate from the database, and a lost file is written again by the next writer") {
  Fixture f;
  const auto key = pki::PrivateKey::generate(pki::KeyType::p256);
  const auto old = f.issue("a", t0, 30, pki::Profile::client, key);
  fs::remove(f.folder.layout().issued_cert("a"));
  const auto item = f.renew_name("a", at(t0 + day));
  REQUIRE(item.status == store::RenewStatus::renewed);
  CHECK(f.file_cert("a").public_key() == old.public_key());

  // A file the commit listed but a killed command never wrote: the next writer's open_index(held) writes it.
  {
    auto index = f.folder.open_index();
    auto tx = index.begin();
    const auto renewed = store::renew_name(index, f.ca, "a", at(t0 + 2 * day));
    tx.commit();  // killed here: no write_certificate_files
    REQUIRE(renewed.status == store::RenewStatus::renewed);
    CHECK(f.file_cert("a").serial_hex() == item.new_serial);
    CHECK(index.files_to_write().size() == 1);
    const auto held = f.folder.lock();
    (void)f.folder.open_index(held);
    CHECK(f.file_cert("a").serial_hex() == renewed.new_serial);
    CHECK(f.folder.open_index().files_to_write().empty());
  }
}

TEST_CASE("a certificate file issued by this CA outside mqttpki is adopted and renewed") {
  Fixture f;
  const auto key = pki::PrivateKey::generate(pki::KeyType::p256);
  pki::IssueRequest request;
  request.public_key = key.public_key();
  request.subject = pki::Name::build("client1");
  request.profile = pki::Profile::client;
  request.days = 20;
  request.now = t0;
  const auto outside = pki::issue(f.ca.cert, f.ca.key, request).certificate;
  const fs::path file = f.tmp.path / "client1.crt";
  store::write_file_atomic(file, outside.to_pem(), store::mode_public, false);

  auto index = f.folder.open_index();
  store::ImportOptions import;
  import.source_label = file.string();
  const auto item = f.renew_certificate(outside, import, at(t0 + 15 * day));
  REQUIRE(item.status == store::RenewStatus::renewed);
  CHECK(item.name == "client1");
  const auto saved = f.folder.open_index();
  REQUIRE(saved.find_serial(outside.serial_hex()).has_value());
  CHECK(saved.find_serial(outside.serial_hex())->status == store::CertStatus::superseded);
  CHECK(f.file_cert("client1").public_key() == key.public_key());

  // A certificate from another CA is refused.
  const auto other_key = pki::PrivateKey::generate(pki::KeyType::p256);
  pki::CaOptions other;
  other.subject = pki::Name::build("Other CA");
  other.now = t0;
  const auto other_ca = pki::make_ca(other_key, other);
  const auto foreign = pki::issue(other_ca, other_key, request).certificate;
  CHECK_THROWS_AS(f.renew_certificate(foreign, import, at(t0 + day)), Error);
}

TEST_CASE("rekey signs a fresh CSR for an existing NAME") {
  Fixture f;
  const auto key = pki::PrivateKey::generate(pki::KeyType::p256);
  const auto old = f.issue("broker", t0, 90, pki::Profile::server, key, {pki::parse_san("DNS:mqtt.example.com")});
  const auto new_key = pki::PrivateKey::generate(pki::KeyType::p256);
  const auto csr = pki::Csr::create(new_key, pki::Name::build("broker", "Home"));  // no SANs: the old ones stay
  auto index = f.folder.open_index();
  const auto item = f.rekey_name("broker", csr, at(t0 + day));
  REQUIRE(item.status == store::RenewStatus::renewed);
  const auto fresh = f.file_cert("broker");
  CHECK(fresh.public_key() == new_key.public_key());
  CHECK(fresh.sans() == old.sans());
  CHECK(f.folder.open_index().find_serial(old.serial_hex())->status == store::CertStatus::superseded);
  CHECK_THROWS_AS(f.rekey_name("nobody", csr, at(t0 + day)), Error);
}

TEST_CASE("revoking a NAME revokes its unexpired certificates, superseded ones included") {
  Fixture f;
  const auto key = pki::PrivateKey::generate(pki::KeyType::p256);
  const auto first = f.issue("sensor-1", t0, 10, pki::Profile::client, key);        // expires t0+10
  const auto second = f.issue("sensor-1", t0 + day, 60, pki::Profile::client, key);  // same name, newer
  auto index = f.folder.open_index();
  index.mark_superseded(first.serial_hex(), second.serial_hex());
  const auto renewed = f.renew_name("sensor-1", at(t0 + 2 * day));
  REQUIRE(renewed.status == store::RenewStatus::renewed);
  f.issue("other", t0, 60, pki::Profile::client, key);
  index = f.folder.open_index();

  const auto now = t0 + 20 * day;  // `first` has expired; `second` (superseded) and the renewal have not
  const auto result = store::revoke(index, "sensor-1", pki::RevocationReason::key_compromise, now);
  REQUIRE(result.revoked.size() == 2);
  CHECK(result.expired.size() == 1);
  CHECK(result.expired.front().serial == first.serial_hex());
  for (const auto& e : result.revoked) {
    CHECK(e.status == store::CertStatus::revoked);
    CHECK(e.revocation_reason == "keyCompromise");
  }
  CHECK(index.find_serial(second.serial_hex())->status == store::CertStatus::revoked);
  CHECK(index.valid_by_name("other").size() == 1);

  // Again: nothing new.
  const auto again = store::revoke(index, "sensor-1", pki::RevocationReason::key_compromise, now);
  CHECK(again.revoked.empty());
  CHECK(again.already_revoked.size() == 2);

  // By serial, with colons and lower case.
  const std::string serial = index.valid_by_name("other").front().serial;
  std::string spaced;
  for (std::size_t i = 0; i < serial.size(); i += 2) {
    if (i != 0) spaced += ':';
    spaced += static_cast<char>(std::tolower(serial[i]));
    spaced += static_cast<char>(std::tolower(serial[i + 1]));
  }
  CHECK(store::revoke(index, spaced, pki::RevocationReason::cessation_of_operation, now).revoked.size() == 1);

  try {
    (void)store::revoke(index, "nobody", pki::RevocationReason::unspecified, now);
    FAIL("expected not_found");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::not_found);
  }
}

TEST_CASE("write_crl publishes the revoked serials with a rising CRL number") {
  Fixture f;
  const auto key = pki::PrivateKey::generate(pki::KeyType::p256);
  const auto bad = f.issue("bad", t0, 60, pki::Profile::client, key);
  f.issue("good", t0, 60, pki::Profile::client, key);
  auto index = f.folder.open_index();
  CHECK_FALSE(store::current_crl(f.folder).has_value());

  const auto now = t0 + day;
  const auto first = store::write_crl(f.folder, index, f.ca, 30, now);
  CHECK(first.number == 1);
  CHECK(first.revoked == 0);
  (void)store::revoke(index, "bad", pki::RevocationReason::key_compromise, now);
  const auto second = store::write_crl(f.folder, index, f.ca, 7, now);
  CHECK(second.number == 2);
  CHECK(f.folder.open_index().crl_number() == 2);

  const auto info = store::current_crl(f.folder);
  REQUIRE(info.has_value());
  CHECK(info->number == std::optional<std::uint64_t>(2));
  REQUIRE(info->next_update.has_value());
  CHECK(*info->next_update == std::chrono::time_point_cast<std::chrono::seconds>(now + 7 * day));
  CHECK(info->this_update < now);
  CHECK(info->revoked_serials == std::vector<std::string>{bad.serial_hex()});
  CHECK(store::validity_days(info->this_update, *info->next_update) == 7);

  // The CRL verifies as a TLS peer would use it: the revoked leaf is refused, the good one accepted.
  pki::VerifyOptions options;
  options.purpose = pki::Purpose::client;
  options.now = now + hours{1};
  options.crls = {pki::Bytes(second.pem.begin(), second.pem.end())};
  CHECK_FALSE(pki::verify_chain({f.ca.cert}, bad, options).ok);
  CHECK(pki::verify_chain({f.ca.cert}, f.file_cert("good"), options).ok);

  CHECK_THROWS_AS(store::write_crl(f.folder, index, f.ca, 0, now), Error);
  CHECK_THROWS_AS(store::read_crl_info("not a crl"), Error);
}

TEST_CASE("one pki::Issuer serves every renewal of a run, and is rebuilt when the CA material changes") {
  Fixture f;
  const auto key = pki::PrivateKey::generate(pki::KeyType::p256);
  f.issue("pi1", t0, 40, pki::Profile::client, key);
  f.issue("pi2", t0, 40, pki::Profile::client, key);
  auto index = f.folder.open_index();
  const auto now = t0 + 30 * day;
  REQUIRE(f.renew_name("pi1", at(now)).status == store::RenewStatus::renewed);
  const pki::Issuer* first = &f.ca.issuer();
  REQUIRE(f.renew_name("pi2", at(now)).status == store::RenewStatus::renewed);
  CHECK(&f.ca.issuer() == first);
  CHECK(f.ca.issuer().ca_label() == f.ca.cert_path.string());
  CHECK(pki::verify_chain({f.ca.cert}, f.file_cert("pi2"), pki::Purpose::client, now).ok);

  // A key that does not match: refused by the issuance, as pki::issue refused it, not by loading.
  store::CaMaterial wrong = f.ca;
  wrong.key = pki::PrivateKey::generate(pki::KeyType::p256);
  const auto item = f.renew_name(wrong, "pi1", at(now));
  CHECK(item.status == store::RenewStatus::failed);
  CHECK(item.message.find("does not match the CA certificate " + f.ca.cert_path.string()) != std::string::npos);
}

namespace {

// Issues NAMEs n00..n(count-1) in `f` with the given device keys: every third a server with a SAN.
std::vector<std::string> issue_fleet(Fixture& f, const std::vector<pki::PrivateKey>& keys) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string name = fmt::format("n{:02}", i);
    const bool server = i % 3 == 0;
    f.issue(name, t0, 30 + static_cast<int>(i), server ? pki::Profile::server : pki::Profile::client, keys[i],
            server ? std::vector<pki::GeneralName>{pki::parse_san("DNS:" + name + ".example.com")}
                   : std::vector<pki::GeneralName>{});
    names.push_back(name);
  }
  return names;
}

void run_sql(const fs::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

}  // namespace

TEST_CASE("renew_names signs a batch on every core and records what renew_name records one by one") {
  std::vector<pki::PrivateKey> keys;
  for (int i = 0; i < 12; ++i) keys.push_back(pki::PrivateKey::generate(pki::KeyType::p256));
  Fixture serial;
  Fixture batch;
  auto names = issue_fleet(serial, keys);
  REQUIRE(issue_fleet(batch, keys) == names);
  names.push_back("n03");    // twice in one batch: renewed twice, as one by one
  names.push_back("ghost");  // never issued
  const auto options = at(t0 + 10 * day);

  const auto one_by_one = serial.in_transaction([&](store::Index& index) {
    std::vector<store::RenewItem> items;
    for (const auto& name : names) items.push_back(store::renew_name(index, serial.ca, name, options));
    return items;
  });
  const auto items =
      batch.in_transaction([&](store::Index& index) { return store::renew_names(index, batch.ca, names, options); });

  REQUIRE(items.size() == names.size());
  const auto index = batch.folder.open_index();
  std::set<std::string> new_serials;
  for (std::size_t i = 0; i < items.size(); ++i) {
    INFO(names[i]);
    CHECK(items[i].name == names[i]);
    CHECK(items[i].status == one_by_one[i].status);
    CHECK(items[i].old_not_after == one_by_one[i].old_not_after);
    CHECK(items[i].new_not_after == one_by_one[i].new_not_after);
    CHECK(items[i].warnings == one_by_one[i].warnings);
    if (items[i].status != store::RenewStatus::renewed) continue;
    new_serials.insert(items[i].new_serial);
    // The old certificate superseded by exactly this renewal; the new one recorded with its bytes.
    const auto old = index.find_serial(items[i].old_serial);
    REQUIRE(old.has_value());
    CHECK(old->status == store::CertStatus::superseded);
    CHECK(old->superseded_by == items[i].new_serial);
    CHECK(index.certificate_der(items[i].new_serial).has_value());
  }
  CHECK(items.back().status == store::RenewStatus::failed);
  CHECK(items.back().message.find("no valid certificate named 'ghost'") != std::string::npos);
  CHECK(new_serials.size() == names.size() - 1);  // unique: every renewal but the ghost's
  CHECK(index.size() == 12 + new_serials.size());
  CHECK(index.files_to_write().empty());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    INFO(names[i]);
    const auto current = index.valid_by_name(names[i]);
    REQUIRE(current.size() == 1);
    const auto file = batch.file_cert(names[i]);
    const auto expected = serial.file_cert(names[i]);
    CHECK(file.serial_hex() == current.front().serial);
    CHECK(file.public_key() == expected.public_key());
    CHECK(file.subject() == expected.subject());
    CHECK(file.sans() == expected.sans());
    CHECK(file.extended_key_usage() == expected.extended_key_usage());
    CHECK(file.not_after() == expected.not_after());
    CHECK(pki::verify_chain({batch.ca.cert}, file, current.front().profile == "server" ? pki::Purpose::server : pki::Purpose::client, options.now).ok);
  }
}

TEST_CASE("renew_names: a per-certificate failure inside a parallel batch fails that item only") {
  std::vector<pki::PrivateKey> keys;
  for (int i = 0; i < 6; ++i) keys.push_back(pki::PrivateKey::generate(pki::KeyType::p256));
  Fixture f;
  const auto names = issue_fleet(f, keys);  // n00 and n03 are servers
  const auto db = f.folder.layout().dir / "ca.db";
  run_sql(db, "UPDATE certificates SET profile = 'server' WHERE name = 'n01'");  // a server without a SAN
  run_sql(db, "UPDATE certificates SET der = NULL WHERE name = 'n02'");          // bytes lost (a 0.1 migration)
  run_sql(db, "UPDATE certificates SET der = x'300302017F' WHERE name = 'n04'");  // damaged bytes
  std::vector<std::string> before;
  for (const auto& name : names) before.push_back(f.folder.open_index().valid_by_name(name).front().serial);
  const auto options = at(t0 + 10 * day);
  const auto items =
      f.in_transaction([&](store::Index& index) { return store::renew_names(index, f.ca, names, options); });

  REQUIRE(items.size() == 6);
  CHECK(items[0].status == store::RenewStatus::renewed);
  CHECK(items[3].status == store::RenewStatus::renewed);
  CHECK(items[5].status == store::RenewStatus::renewed);
  // Refused while signing: the item keeps the old certificate's details, as renew_name reports it.
  CHECK(items[1].status == store::RenewStatus::failed);
  CHECK(items[1].message.find("a server certificate needs at least one SAN") != std::string::npos);
  CHECK_FALSE(items[1].old_serial.empty());
  CHECK(items[2].status == store::RenewStatus::failed);
  CHECK(items[2].message.find("does not hold the bytes of n02's certificate") != std::string::npos);
  // A damaged certificate throws from renew_name alone; in a batch it is that item's failure, with only why.
  CHECK(items[4].status == store::RenewStatus::failed);
  CHECK_FALSE(items[4].message.empty());
  CHECK(items[4].old_serial.empty());
  {
    auto index = f.folder.open_index();
    auto tx = index.begin();
    CHECK_THROWS_AS(store::renew_name(index, f.ca, "n04", options), Error);
  }
  const auto index = f.folder.open_index();
  for (const std::size_t i : {0, 1, 2, 3, 4, 5}) {  // the failed ones untouched, the others renewed once
    const auto current = index.valid_by_name(names[i]);
    REQUIRE(current.size() == 1);
    const bool failed = items[i].status == store::RenewStatus::failed;
    CHECK(current.front().serial == (failed ? before[i] : items[i].new_serial));
    CHECK(index.find_serial(before[i])->status == (failed ? store::CertStatus::valid : store::CertStatus::superseded));
  }

  // A CA that cannot issue (its key does not match): every due item says so, as renew_name does.
  store::CaMaterial wrong = f.ca;
  wrong.key = pki::PrivateKey::generate(pki::KeyType::p256);
  const auto refused = f.in_transaction(
      [&](store::Index& i) { return store::renew_names(i, wrong, std::vector<std::string>{"n00", "n03"}, options); });
  REQUIRE(refused.size() == 2);
  for (const auto& item : refused) {
    CHECK(item.status == store::RenewStatus::failed);
    CHECK(item.message.find("does not match the CA certificate") != std::string::npos);
  }
}

TEST_CASE("renew_names: a serial drawn twice in a batch is replaced before it is recorded") {
  std::vector<pki::PrivateKey> keys;
  for (int i = 0; i < 3; ++i) keys.push_back(pki::PrivateKey::generate(pki::KeyType::p256));
  Fixture f;
  const auto names = issue_fleet(f, keys);
  auto options = at(t0 + 10 * day);
  int draws = 0;  // called on the index's thread only (TSan would say otherwise)
  options.random = [&draws](std::span<std::uint8_t> out) {
    std::fill(out.begin(), out.end(), static_cast<std::uint8_t>(draws < 2 ? 0x42 : 0x42 + draws));
    ++draws;
  };
  const auto items =
      f.in_transaction([&](store::Index& index) { return store::renew_names(index, f.ca, names, options); });
  REQUIRE(items.size() == 3);
  std::set<std::string> serials;
  for (const auto& item : items) {
    REQUIRE(item.status == store::RenewStatus::renewed);
    serials.insert(item.new_serial);
    CHECK(f.file_cert(item.name).serial_hex() == item.new_serial);
  }
  CHECK(serials.size() == 3);
  CHECK(draws == 4);  // three candidates, one of them drawn again
}

TEST_CASE("RenewalBatch: the next batch signs while the caller commits the previous one; an unfinished one records nothing") {
  std::vector<pki::PrivateKey> keys;
  for (int i = 0; i < 8; ++i) keys.push_back(pki::PrivateKey::generate(pki::KeyType::p256));
  Fixture f;
  const auto names = issue_fleet(f, keys);
  const std::vector<std::string> first(names.begin(), names.begin() + 4);
  const std::vector<std::string> second(names.begin() + 4, names.end());
  const auto options = at(t0 + 10 * day);
  {
    const auto held = f.folder.lock();
    auto index = f.folder.open_index(held);
    // Started and dropped before finish(): its helpers stop, nothing is recorded.
    { store::RenewalBatch dropped(index, f.ca, second, options); }
    CHECK(index.size() == 8);

    auto tx = index.begin();
    const auto items = store::renew_names(index, f.ca, first, options);
    store::RenewalBatch ahead(index, f.ca, second, options);  // planned inside the first transaction
    auto staged = f.folder.stage_certificate_files(index, held);
    tx.commit();
    f.folder.publish_certificate_files(index, staged);
    auto tx2 = index.begin();
    const auto later = ahead.finish(index);
    tx2.commit();
    f.folder.write_certificate_files(index, held);
    REQUIRE(items.size() == 4);
    REQUIRE(later.size() == 4);
    for (const auto* batch : {&items, &later})
      for (const auto& item : *batch) {
        INFO(item.name);
        CHECK(item.status == store::RenewStatus::renewed);
        CHECK(f.file_cert(item.name).serial_hex() == item.new_serial);
        CHECK(index.find_serial(item.old_serial)->superseded_by == item.new_serial);
      }
    CHECK(later.front().name == second.front());
    CHECK(index.size() == 16);
  }
}
