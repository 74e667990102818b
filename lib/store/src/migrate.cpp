#include "migrate.hpp"

#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/error.hpp>
#include <mqttpki/store/files.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

namespace mqttpki::store {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string get_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (!it->is_string()) throw Error(Errc::bad_format, fmt::format("\"{}\" is not a string", key));
  return it->get<std::string>();
}

TimePoint get_time(const json& j, const char* key) {
  auto tp = parse_time(get_string(j, key));
  if (!tp) throw Error(Errc::bad_format, fmt::format("\"{}\" is not a UTC time like 2026-01-31T12:00:00Z", key));
  return *tp;
}

IndexEntry entry_from_json(const json& j) {
  if (!j.is_object()) throw Error(Errc::bad_format, "a certificate entry is not an object");
  IndexEntry e;
  e.serial = normalize_serial(get_string(j, "serial"));
  e.name = get_string(j, "name");
  e.cn = get_string(j, "cn");
  e.subject = get_string(j, "subject");
  e.profile = get_string(j, "profile");
  e.not_before = get_time(j, "not_before");
  e.not_after = get_time(j, "not_after");
  e.issued_at = j.contains("issued_at") ? get_time(j, "issued_at") : e.not_before;
  e.status = cert_status_from_string(get_string(j, "status"));
  if (j.contains("revoked_at")) e.revoked_at = get_time(j, "revoked_at");
  e.revocation_reason = get_string(j, "revocation_reason");
  e.superseded_by = get_string(j, "superseded_by");
  e.file = get_string(j, "file");
  e.sha256 = get_string(j, "sha256");
  e.public_key_sha256 = get_string(j, "public_key_sha256");
  return e;
}

std::uint64_t get_count(const json& j) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<std::int64_t>() >= 0))
    throw Error(Errc::bad_format, "\"crl_number\" is not a non-negative integer");
  return j.get<std::uint64_t>();
}

// What 0.1's index was: index.json with the journal applied. Entries keyed by serial in first-seen order.
struct LegacyIndex {
  std::vector<std::string> order;
  std::map<std::string, IndexEntry> by_serial;
  std::uint64_t crl_number = 0;

  void put(IndexEntry e) {
    if (!by_serial.contains(e.serial)) order.push_back(e.serial);
    const std::string serial = e.serial;
    by_serial[serial] = std::move(e);
  }
  void drop(const std::string& serial) {
    by_serial.erase(serial);
    std::erase(order, serial);
  }
  void apply(const json& record) {
    if (auto d = record.find("drop"); d != record.end())
      for (const auto& s : *d) drop(normalize_serial(s.get<std::string>()));
    if (auto p = record.find("put"); p != record.end())
      for (const auto& item : *p) put(entry_from_json(item));
    if (auto c = record.find("crl_number"); c != record.end()) crl_number = get_count(*c);
  }
};

LegacyIndex read_legacy(const fs::path& index_path, const fs::path& journal_path) {
  LegacyIndex legacy;
  const json j = json::parse(read_file(index_path), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(Errc::bad_format, "not a valid index (bad JSON)");
  if (auto c = j.find("crl_number"); c != j.end()) legacy.crl_number = get_count(*c);
  if (auto certs = j.find("certificates"); certs != j.end())
    for (const auto& item : *certs) legacy.put(entry_from_json(item));
  if (!path_exists(journal_path)) return legacy;
  const std::string text = read_file(journal_path);
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;  // a killed append: never acted upon
    const json record = json::parse(text.begin() + static_cast<std::ptrdiff_t>(pos),
                                    text.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
    const bool last = end + 1 == text.size();
    if (record.is_discarded() || !record.is_object()) {
      if (last) break;
      throw Error(Errc::bad_format, fmt::format("{}: a damaged record before the last", journal_path.string()));
    }
    legacy.apply(record);
    pos = end + 1;
  }
  return legacy;
}

// The certificate's bytes when its file still holds this serial (0.1 overwrote a renewed certificate's file).
std::string der_of(const CaLayout& layout, const IndexEntry& e) {
  const fs::path file = fs::path(e.file).is_absolute() ? fs::path(e.file) : layout.dir / e.file;
  try {
    const auto cert = pki::Certificate::load(read_file(file));
    if (cert.serial_hex() != e.serial) return {};
    const auto der = cert.to_der();
    return std::string(reinterpret_cast<const char*>(der.data()), der.size());
  } catch (const Error&) {
    return {};
  }
}


}  // namespace

void move_legacy_index(const CaLayout& layout, TimePoint now) {
  if (!path_exists(layout.legacy_index) && !path_exists(layout.legacy_journal)) return;
  ensure_dir(layout.backup_dir, mode_private_dir);
  const fs::path backup = backup_folder_name(layout.backup_dir, now);
  ensure_dir(backup, mode_private_dir);
  for (const auto& f : {layout.legacy_index, layout.legacy_journal})
    if (path_exists(f)) move_path(f, backup / f.filename());
  sync_dir(backup);
  sync_dir(layout.dir);
}

void migrate_json_index(const CaLayout& layout, TimePoint now) {
  if (path_exists(layout.db) || !path_exists(layout.legacy_index)) return;
  LegacyIndex legacy;
  try {
    legacy = read_legacy(layout.legacy_index, layout.legacy_journal);
  } catch (const Error& e) {
    throw Error(Errc::bad_format, fmt::format("{}: {}; cannot move it to {}: restore it from the CA folder's "
                                              "backup/ or repair it by hand, then run the command again",
                                              layout.legacy_index.string(), e.what(), layout.db.string()));
  }
  const fs::path temp = layout.dir / ".ca.db.migrating";
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((temp.string() + suffix).c_str());
  {
    Index index = Index::open(temp, /*create=*/true);
    auto tx = index.begin();
    for (const auto& serial : legacy.order) {
      const IndexEntry& e = legacy.by_serial.at(serial);
      index.add(e, der_of(layout, e), /*queue_file=*/false);
    }
    index.set_crl_number(legacy.crl_number);
    tx.commit();
  }  // closed: the WAL is checkpointed into the file and removed
  move_path(temp, layout.db);
  sync_dir(layout.dir);
  move_legacy_index(layout, now);
}

}  // namespace mqttpki::store
