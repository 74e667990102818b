#include "template_render.hpp"

#include "embedded.hpp"

#include <mqttpki/enroll/protocol.hpp>
#include <mqttpki/error.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string_view>

#include <pwd.h>

namespace mqttpki::cli {

namespace {

std::string_view embedded(std::string_view file) {
  for (const auto& f : embedded_files()) {
    if (f.name == file) return f.data;
  }
  throw Error(Errc::not_found, fmt::format("template file {} is not built into this binary", file));
}

std::string join_names(const std::vector<TemplateInfo>& all) {
  std::string out;
  for (const auto& t : all) out += (out.empty() ? "" : ", ") + t.name;
  return out;
}

// Values land inside double-quoted strings in JSON and Python templates.
std::string escape_for(std::string_view file, const std::string& value) {
  const bool quoted = file.ends_with(".json") || file.ends_with(".py");
  if (!quoted) {
    if (value.find('\n') != std::string::npos) {
      throw Error(Errc::invalid_argument, "template values cannot contain a line break");
    }
    return value;
  }
  std::string dumped = nlohmann::json(value).dump();  // JSON string escaping also suits Python literals
  return dumped.substr(1, dumped.size() - 2);
}

[[noreturn]] void refuse(const std::string& key, const std::string& value, std::string_view why) {
  throw Error(Errc::invalid_argument, fmt::format("--set {}={}: {}", key, value, why));
}

bool all_of(const std::string& value, std::string_view allowed) {
  return !value.empty() && std::all_of(value.begin(), value.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || allowed.find(c) != std::string_view::npos;
  });
}

// A number from lo to hi, at most 5 digits.
bool in_range(std::string_view text, unsigned long lo, unsigned long hi) {
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), digit)) return false;
  const unsigned long n = std::stoul(std::string(text));
  return n >= lo && n <= hi;
}

// A cron hour field: *, N, N-M, each optionally /STEP, comma-separated; hours 0 to 23.
bool cron_hours(const std::string& value) {
  if (value.empty()) return false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = value.find(',', start);
    std::string_view item = std::string_view(value).substr(start, comma == std::string::npos ? comma : comma - start);
    if (const std::size_t slash = item.find('/'); slash != std::string_view::npos) {
      if (!in_range(item.substr(slash + 1), 1, 23)) return false;
      item = item.substr(0, slash);
    }
    const std::size_t dash = item.find('-');
    const bool ok = item == "*" || (dash == std::string_view::npos ? in_range(item, 0, 23)
                                                                    : in_range(item.substr(0, dash), 0, 23) &&
                                                                          in_range(item.substr(dash + 1), 0, 23));
    if (!ok) return false;
    if (comma == std::string::npos) return true;
    start = comma + 1;
  }
}

// The user who ran the command (under sudo, the one who ran sudo): its home folder, for defaults such as
// Node-RED's cert_dir (Raspberry Pi OS no longer has a `pi` user).
std::string invoking_home() {
  const char* sudo_user = std::getenv("SUDO_USER");
  if (sudo_user != nullptr && *sudo_user != '\0')
    if (const passwd* pw = ::getpwnam(sudo_user); pw != nullptr && pw->pw_dir != nullptr) return pw->pw_dir;
  const char* home = std::getenv("HOME");
  return home != nullptr && *home != '\0' ? home : "/root";
}

// A default may name other variables ("{{cert_dir}}/crl.pem") and {{home}}: expanded once, after --set, so
// it follows what the user set.
void expand_defaults(std::map<std::string, std::string>& values) {
  auto with_home = values;
  with_home.emplace("home", invoking_home());
  for (auto& [key, value] : values)
    for (const auto& [other, replacement] : with_home) {
      const std::string marker = "{{" + other + "}}";
      for (auto at = value.find(marker); at != std::string::npos; at = value.find(marker, at + replacement.size()))
        value.replace(at, marker.size(), replacement);
    }
}

// Words that land unquoted in cron lines, systemd units and Mosquitto configs take only what cannot end their
// field or word there (JSON and Python templates quote every value: escape_for).
void check_word(const std::string& key, const std::string& value) {
  if ((key.ends_with("_dir") || key.ends_with("_file")) && !value.empty() && !all_of(value, "/._+@=,:-"))
    refuse(key, value, "a path here is letters, digits and / . _ - + @ = , : only (no spaces: cron, sh and systemd "
                       "split words on them); use such a path, e.g. a symlink to it");
  if (key == "broker_host" && !all_of(value, ".-:"))
    refuse(key, value, "a host name is letters, digits, dots and hyphens (or an IP address), e.g. mqtt.example.com");
  if (key == "user" && !all_of(value, "._-"))
    refuse(key, value, "a user name is letters, digits and . _ - only, e.g. --set user=root");
  if (key.ends_with("_name") && !all_of(value, "._-"))
    refuse(key, value, "a certificate name is letters, digits and . _ - only (as in DIR/issued/NAME.crt)");
  if (key == "agent" && !value.empty() && !all_of(value, "._-"))
    refuse(key, value, "the agent's name is its certificate CN: letters, digits and . _ - only, e.g. ca-agent");
  if (key == "prefix") {
    if (!all_of(value, "/._-")) refuse(key, value, "a topic prefix is letters, digits and / . _ - only, e.g. mqttpki/v1");
    try {
      (void)enroll::Topics(value);
    } catch (const Error& e) {
      refuse(key, value, e.what());
    }
  }
  // It lands in single quotes in a cron line and a systemd unit (where % and \ are special): no ' % or \.
  if (key == "deploy_hook" && value.find_first_of("'%\\") != std::string::npos)
    refuse(key, value, "the hook lands in single quotes in a cron line or systemd unit: no ' % or \\; put a "
                       "longer command in a script and give its path");
}

// The kind of each variable, by its name.
void check_value(std::string_view file, const std::string& key, const std::string& value) {
  if (std::any_of(value.begin(), value.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    refuse(key, value, "a value cannot contain a line break or other control character; give one line of text");
  if (key.ends_with("_port") && !in_range(value, 1, 65535)) refuse(key, value, "a port is a number from 1 to 65535");
  if (key == "hour" && !cron_hours(value))
    refuse(key, value, "a cron hour field is 0-23, *, a range (1-5), a step (*/6) or a list (3,15); e.g. --set hour=3");
  if (key.ends_with("_days") && !in_range(value, 1, 3650)) refuse(key, value, "a number of days from 1 to 3650");
  if (!file.ends_with(".json") && !file.ends_with(".py")) check_word(key, value);
}

std::string substitute(std::string_view text, std::string_view file,
                       const std::map<std::string, std::string>& values) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos + 1);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    // {{?var}} keeps the line when var is set, {{!var}} when it is empty.
    if (line.starts_with("{{?") || line.starts_with("{{!")) {
      const bool keep_if_set = line[2] == '?';
      size_t close = line.find("}}");
      if (close == std::string_view::npos) throw Error(Errc::bad_format, fmt::format("template {}: unclosed marker", file));
      std::string var(line.substr(3, close - 3));
      auto it = values.find(var);
      if (it == values.end()) throw Error(Errc::bad_format, fmt::format("template {}: unknown variable {}", file, var));
      if (it->second.empty() == keep_if_set) continue;
      line.remove_prefix(close + 2);
    }
    size_t i = 0;
    while (i < line.size()) {
      size_t open = line.find("{{", i);
      if (open == std::string_view::npos) {
        out.append(line.substr(i));
        break;
      }
      out.append(line.substr(i, open - i));
      size_t close = line.find("}}", open);
      if (close == std::string_view::npos) throw Error(Errc::bad_format, fmt::format("template {}: unclosed {{{{", file));
      std::string var(line.substr(open + 2, close - open - 2));
      auto it = values.find(var);
      if (it == values.end()) throw Error(Errc::bad_format, fmt::format("template {}: unknown variable {}", file, var));
      out += escape_for(file, it->second);
      i = close + 2;
    }
  }
  return out;
}

}  // namespace

std::vector<TemplateInfo> list_templates() {
  auto manifest = nlohmann::ordered_json::parse(embedded("manifest.json"));
  std::vector<TemplateInfo> all;
  for (const auto& [name, t] : manifest.items()) {
    TemplateInfo info{name, t.at("file").get<std::string>(), t.at("description").get<std::string>(), {}};
    for (const auto& [var, def] : t.at("vars").items()) info.vars.emplace_back(var, def.get<std::string>());
    all.push_back(std::move(info));
  }
  return all;
}

std::string render_template(std::string_view name, const std::map<std::string, std::string>& set) {
  auto all = list_templates();
  auto t = std::find_if(all.begin(), all.end(), [&](const TemplateInfo& i) { return i.name == name; });
  if (t == all.end()) {
    throw Error(Errc::invalid_argument,
                fmt::format("no template named '{}'; templates: {}", name, join_names(all)));
  }
  std::map<std::string, std::string> values(t->vars.begin(), t->vars.end());
  for (const auto& [key, value] : set) {
    auto it = values.find(key);
    if (it == values.end()) {
      std::string known;
      for (const auto& v : t->vars) known += (known.empty() ? "" : ", ") + v.first;
      throw Error(Errc::invalid_argument, fmt::format("template {} has no variable '{}'; its variables: {}", name,
                                                      key, known.empty() ? "(none)" : known));
    }
    check_value(t->file, key, value);
    it->second = value;
  }
  expand_defaults(values);
  return substitute(embedded(t->file), t->file, values);
}

}  // namespace mqttpki::cli
