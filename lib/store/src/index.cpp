#include <mqttpki/pki/error.hpp>
#include <mqttpki/store/files.hpp>
#include <mqttpki/store/index.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>

namespace mqttpki::store {

using nlohmann::json;

std::string_view to_string(CertStatus status) {
  switch (status) {
    case CertStatus::valid:
      return "valid";
    case CertStatus::revoked:
      return "revoked";
    case CertStatus::superseded:
      return "superseded";
  }
  return "valid";
}

CertStatus cert_status_from_string(std::string_view text) {
  if (text == "valid") return CertStatus::valid;
  if (text == "revoked") return CertStatus::revoked;
  if (text == "superseded") return CertStatus::superseded;
  throw Error(Errc::bad_format, fmt::format("unknown certificate status '{}'", text));
}

std::optional<TimePoint> parse_time(std::string_view text) {
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z')
    return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) -> int {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) return -1;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (tm.tm_year < -1899 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
      tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
    return std::nullopt;
  const std::time_t t = ::timegm(&tm);
  return std::chrono::system_clock::from_time_t(t);
}

namespace {

json entry_to_json(const IndexEntry& e) {
  json j{{"serial", e.serial},
         {"name", e.name},
         {"cn", e.cn},
         {"subject", e.subject},
         {"profile", e.profile},
         {"not_before", format_time(e.not_before)},
         {"not_after", format_time(e.not_after)},
         {"issued_at", format_time(e.issued_at)},
         {"status", std::string(to_string(e.status))},
         {"file", e.file},
         {"sha256", e.sha256},
         {"public_key_sha256", e.public_key_sha256}};
  if (e.revoked_at) j["revoked_at"] = format_time(*e.revoked_at);
  if (!e.revocation_reason.empty()) j["revocation_reason"] = e.revocation_reason;
  if (!e.superseded_by.empty()) j["superseded_by"] = e.superseded_by;
  return j;
}

std::string get_string(const json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) throw Error(Errc::bad_format, fmt::format("certificate entry lacks \"{}\"", key));
    return {};
  }
  if (!it->is_string()) throw Error(Errc::bad_format, fmt::format("\"{}\" is not a string", key));
  return it->get<std::string>();
}

TimePoint get_time(const json& j, const char* key) {
  std::string text = get_string(j, key, true);
  auto tp = parse_time(text);
  if (!tp) throw Error(Errc::bad_format, fmt::format("\"{}\" is not a UTC time like 2026-01-31T12:00:00Z", key));
  return *tp;
}

IndexEntry entry_from_json(const json& j) {
  if (!j.is_object()) throw Error(Errc::bad_format, "a certificate entry is not an object");
  IndexEntry e;
  e.serial = normalize_serial(get_string(j, "serial", true));
  e.name = get_string(j, "name", true);
  e.cn = get_string(j, "cn", false);
  e.subject = get_string(j, "subject", false);
  e.profile = get_string(j, "profile", false);
  e.not_before = get_time(j, "not_before");
  e.not_after = get_time(j, "not_after");
  e.issued_at = j.contains("issued_at") ? get_time(j, "issued_at") : e.not_before;
  e.status = cert_status_from_string(get_string(j, "status", true));
  if (j.contains("revoked_at")) e.revoked_at = get_time(j, "revoked_at");
  e.revocation_reason = get_string(j, "revocation_reason", false);
  e.superseded_by = get_string(j, "superseded_by", false);
  e.file = get_string(j, "file", false);
  e.sha256 = get_string(j, "sha256", false);
  e.public_key_sha256 = get_string(j, "public_key_sha256", false);
  return e;
}

}  // namespace

Index Index::parse(std::string_view json_text, const std::string& origin) {
  const std::string fix = "restore it from the CA folder's backup/ or repair it by hand";
  json j = json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Error(Errc::bad_format, fmt::format("{}: not a valid index (bad JSON); {}", origin, fix));
  Index index;
  try {
    if (auto v = j.find("version"); v != j.end() && (!v->is_number_integer() || v->get<int>() > format_version))
      throw Error(Errc::bad_format, "unsupported \"version\" (made by a newer mqttpki?)");
    if (auto c = j.find("crl_number"); c != j.end()) {
      if (!c->is_number_unsigned() && !(c->is_number_integer() && c->get<std::int64_t>() >= 0))
        throw Error(Errc::bad_format, "\"crl_number\" is not a non-negative integer");
      index.crl_number_ = c->get<std::uint64_t>();
    }
    auto certs = j.find("certificates");
    if (certs != j.end()) {
      if (!certs->is_array()) throw Error(Errc::bad_format, "\"certificates\" is not an array");
      for (const auto& item : *certs) {
        IndexEntry e = entry_from_json(item);
        if (index.has_serial(e.serial))
          throw Error(Errc::bad_format, fmt::format("serial {} appears twice", e.serial));
        index.insert(std::move(e));
      }
    }
  } catch (const Error& e) {
    throw Error(Errc::bad_format, fmt::format("{}: {}; {}", origin, e.what(), fix));
  }
  return index;
}

std::string Index::to_json() const {
  json certs = json::array();
  for (const auto& e : entries_) certs.push_back(entry_to_json(e));
  json j{{"version", format_version}, {"crl_number", crl_number_}, {"certificates", std::move(certs)}};
  return j.dump(2) + "\n";
}

std::filesystem::path Index::journal_path_for(const std::filesystem::path& index_path) {
  return index_path.parent_path() / (index_path.stem().string() + ".journal");
}

Index Index::load(const std::filesystem::path& path) { return load(path, journal_path_for(path)); }

namespace {

std::string read_if_exists(const std::filesystem::path& path) {
  try {
    return read_file(path);
  } catch (const Error& e) {
    if (e.code() == Errc::not_found) return {};
    throw;
  }
}

}  // namespace

Index Index::load(const std::filesystem::path& path, const std::filesystem::path& journal_path) {
  // Without the lock a writer may compact between the two reads (new index.json, journal removed): then
  // index.json is no longer the version the journal text belongs to, and both are read again.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const auto before = file_version(path);
    std::string text = before ? read_if_exists(path) : std::string();
    std::string journal = read_if_exists(journal_path);
    if (file_version(path) != before) continue;
    Index index = before ? parse(text, path.string()) : Index{};
    index.journal_ = index.apply_journal(journal, journal_path.string());
    return index;
  }
  throw Error(Errc::locked, fmt::format("{}: replaced again and again while being read; run the command again",
                                        path.string()));
}

std::string Index::pending_record() const {
  json j{{"v", journal_version}};
  if (!pending_drop_.empty()) j["drop"] = pending_drop_;
  if (!pending_put_.empty()) {
    json puts = json::array();
    for (const auto& serial : pending_put_) puts.push_back(entry_to_json(entries_[by_serial_.at(serial)]));
    j["put"] = std::move(puts);
  }
  if (crl_pending_) j["crl_number"] = crl_number_;
  return j.dump() + "\n";
}

void Index::clear_pending() noexcept {
  pending_put_.clear();
  pending_put_set_.clear();
  pending_drop_.clear();
  crl_pending_ = false;
}

void Index::mark_pending(const std::string& serial) {
  if (pending_put_set_.insert(serial).second) pending_put_.push_back(serial);
  pending_drop_.erase(std::remove(pending_drop_.begin(), pending_drop_.end(), serial), pending_drop_.end());
}

JournalState Index::apply_journal(std::string_view text, const std::string& origin) {
  JournalState state;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++line_no;
    const std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {  // a killed append: never acted upon
      state.torn_tail = true;
      break;
    }
    const std::string_view line = text.substr(pos, end - pos);
    const bool last = end + 1 == text.size();
    json j = json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      if (last) {  // a killed append that reached the newline but not every byte before it
        state.torn_tail = true;
        break;
      }
      throw Error(Errc::bad_format, fmt::format("{} line {}: not a journal record (bad JSON); restore the CA folder "
                                                "from backup, or remove the damaged line by hand",
                                                origin, line_no));
    }
    // Checked whole before any of it is applied: a record is all or nothing.
    std::vector<std::string> drops;
    std::vector<IndexEntry> puts;
    std::optional<std::uint64_t> crl;
    try {
      if (auto v = j.find("v"); v == j.end() || !v->is_number_integer() || v->get<int>() < 1 ||
                                v->get<int>() > journal_version)
        throw Error(Errc::bad_format, "missing or unsupported \"v\" (made by a newer mqttpki?)");
      if (auto d = j.find("drop"); d != j.end()) {
        if (!d->is_array()) throw Error(Errc::bad_format, "\"drop\" is not an array");
        for (const auto& s : *d) {
          if (!s.is_string()) throw Error(Errc::bad_format, "\"drop\" holds a non-string");
          drops.push_back(normalize_serial(s.get<std::string>()));
        }
      }
      if (auto p = j.find("put"); p != j.end()) {
        if (!p->is_array()) throw Error(Errc::bad_format, "\"put\" is not an array");
        for (const auto& item : *p) puts.push_back(entry_from_json(item));
      }
      if (auto c = j.find("crl_number"); c != j.end()) {
        if (!c->is_number_unsigned() && !(c->is_number_integer() && c->get<std::int64_t>() >= 0))
          throw Error(Errc::bad_format, "\"crl_number\" is not a non-negative integer");
        crl = c->get<std::uint64_t>();
      }
    } catch (const Error& e) {
      throw Error(Errc::bad_format, fmt::format("{} line {}: {}; restore the CA folder from backup, or remove the "
                                                "damaged line by hand",
                                                origin, line_no, e.what()));
    }
    for (const auto& s : drops) drop(s);
    for (auto& e : puts) put(std::move(e));
    if (crl) crl_number_ = *crl;
    ++state.records;
    pos = end + 1;
    state.bytes = pos;
  }
  return state;
}

void Index::save(const std::filesystem::path& path) const {
  write_file_atomic(path, to_json(), mode_public, /*overwrite=*/true);
}

bool Index::has_serial(std::string_view serial_hex) const { return find_serial(serial_hex) != nullptr; }

const IndexEntry* Index::find_serial(std::string_view serial_hex) const {
  auto it = by_serial_.find(normalize_serial(serial_hex));
  return it == by_serial_.end() ? nullptr : &entries_[it->second];
}

// Newest first, valid status only.
std::vector<const IndexEntry*> Index::valid_in(const std::unordered_map<std::string, std::vector<std::size_t>>& map,
                                               std::string_view key) const {
  std::vector<const IndexEntry*> out;
  auto it = map.find(std::string(key));
  if (it == map.end()) return out;
  for (auto pos = it->second.rbegin(); pos != it->second.rend(); ++pos)
    if (entries_[*pos].status == CertStatus::valid) out.push_back(&entries_[*pos]);
  return out;
}

std::vector<const IndexEntry*> Index::valid_by_name(std::string_view name) const { return valid_in(by_name_, name); }

std::vector<const IndexEntry*> Index::valid_by_cn(std::string_view cn) const { return valid_in(by_cn_, cn); }

void Index::add(IndexEntry entry) {
  entry.serial = normalize_serial(entry.serial);
  if (has_serial(entry.serial))
    throw Error(Errc::policy, fmt::format("serial {} is already in the index; a serial is never reused", entry.serial));
  const std::string serial = entry.serial;
  insert(std::move(entry));
  mark_pending(serial);
}

void Index::insert(IndexEntry entry) {
  const std::size_t pos = entries_.size();
  by_serial_.emplace(entry.serial, pos);
  by_name_[entry.name].push_back(pos);
  by_cn_[entry.cn].push_back(pos);
  entries_.push_back(std::move(entry));
}

IndexEntry& Index::entry_for(std::string_view serial_hex) {
  const std::string s = normalize_serial(serial_hex);
  auto it = by_serial_.find(s);
  if (it == by_serial_.end())
    throw Error(Errc::not_found,
                fmt::format("serial {} is not in the CA index; see `mqttpki list` for the issued serials", s));
  return entries_[it->second];
}

void Index::mark_superseded(std::string_view serial_hex, std::string_view by_serial_hex) {
  IndexEntry& e = entry_for(serial_hex);
  e.status = CertStatus::superseded;
  e.superseded_by = normalize_serial(by_serial_hex);
  mark_pending(e.serial);
}

void Index::revoke(std::string_view serial_hex, TimePoint when, std::string reason) {
  IndexEntry& e = entry_for(serial_hex);
  e.status = CertStatus::revoked;
  e.revoked_at = when;
  e.revocation_reason = std::move(reason);
  mark_pending(e.serial);
}

void Index::withdraw(std::string_view serial_hex, const std::vector<IndexEntry>& restore) {
  const std::string serial = normalize_serial(serial_hex);
  drop(serial);
  if (pending_put_set_.erase(serial) != 0)
    pending_put_.erase(std::remove(pending_put_.begin(), pending_put_.end(), serial), pending_put_.end());
  pending_drop_.push_back(serial);
  for (const auto& e : restore) {
    put(e);
    mark_pending(normalize_serial(e.serial));
  }
}

void Index::put(IndexEntry entry) {
  entry.serial = normalize_serial(entry.serial);
  auto it = by_serial_.find(entry.serial);
  if (it == by_serial_.end()) return insert(std::move(entry));
  IndexEntry& held = entries_[it->second];
  const bool moved = held.name != entry.name || held.cn != entry.cn;
  held = std::move(entry);
  if (moved) reindex();
}

void Index::drop(const std::string& serial) {
  auto it = by_serial_.find(serial);
  if (it == by_serial_.end()) return;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(it->second));
  reindex();
}

void Index::reindex() {
  by_serial_.clear();
  by_name_.clear();
  by_cn_.clear();
  for (std::size_t pos = 0; pos < entries_.size(); ++pos) {
    by_serial_.emplace(entries_[pos].serial, pos);
    by_name_[entries_[pos].name].push_back(pos);
    by_cn_[entries_[pos].cn].push_back(pos);
  }
}

}  // namespace mqttpki::store
