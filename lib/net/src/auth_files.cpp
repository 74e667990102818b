#include <mqttpki/net/auth_files.hpp>

#include <mqttpki/mqtt/text_lines.hpp>
#include <mqttpki/pki/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mqttpki::net {
namespace {

std::string read_file(const std::string& path, std::string_view directive) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(Errc::not_found, fmt::format("cannot read {} {}: {}; fix the path in the broker configuration",
                                             directive, path, std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::shared_ptr<const PasswordFile> PasswordFile::parse(std::string_view text, std::string_view filename) {
  auto file = std::make_shared<PasswordFile>();
  mqtt::for_each_content_line(text, [&](int line, std::string_view raw) {
    const auto fail = [&](std::string_view what) {
      throw Error(Errc::invalid_argument, fmt::format("{}:{}: {}", filename, line, what));
    };
    const auto colon = raw.find(':');
    if (colon == std::string_view::npos) fail("not a 'USER:HASH' line; write the file with mosquitto_passwd");
    const std::string_view user = mqtt::trim_blanks(raw.substr(0, colon));
    if (user.empty()) fail("empty user name; remove the line");
    try {
      auto hash = pki::parse_password_hash(mqtt::trim_blanks(raw.substr(colon + 1)));
      if (!file->users_.emplace(std::string(user), std::move(hash)).second)
        fail("user named twice; keep one line per user");
    } catch (const Error& e) {
      if (e.code() != Errc::bad_format) throw;
      fail(e.what());
    }
  });
  file->dummy_.iterations = 101;  // mosquitto_passwd's default
  for (const auto& entry : file->users_)
    file->dummy_.iterations = std::max(file->dummy_.iterations, entry.second.iterations);
  file->dummy_.salt.assign(12, 0);
  file->dummy_.hash.assign(64, 0);
  return file;
}

bool PasswordFile::verify(std::string_view username, const std::optional<std::vector<std::uint8_t>>& password) const {
  const auto it = users_.find(username);
  const std::vector<std::uint8_t> none;
  const bool match = pki::password_matches(it == users_.end() ? dummy_ : it->second, password ? *password : none);
  return it != users_.end() && password && match;
}

std::shared_ptr<const mqtt::Acl> parse_acl_file(std::string_view text, std::string_view filename) {
  try {
    return std::make_shared<const mqtt::Acl>(mqtt::parse_acl(text));
  } catch (const mqtt::AclSyntaxError& e) {
    throw Error(Errc::invalid_argument, fmt::format("{}:{}: {}", filename, e.line(), e.what()));
  }
}

std::vector<ListenerAuth> load_listener_auth(const BrokerConfig& config) {
  std::map<std::string, std::shared_ptr<const PasswordFile>> passwords;
  std::map<std::string, std::shared_ptr<const mqtt::Acl>> acls;
  std::vector<ListenerAuth> out;
  for (const auto& l : config.listeners) {
    const AuthFiles& files = config.auth_files(l);
    ListenerAuth auth;
    if (!files.password_file.empty()) {
      auto& p = passwords[files.password_file];
      if (!p) p = PasswordFile::parse(read_file(files.password_file, "password_file"), files.password_file);
      auth.passwords = p;
    }
    if (!files.acl_file.empty()) {
      auto& a = acls[files.acl_file];
      if (!a) a = parse_acl_file(read_file(files.acl_file, "acl_file"), files.acl_file);
      auth.acl = a;
    }
    out.push_back(std::move(auth));
  }
  return out;
}

}  // namespace mqttpki::net
