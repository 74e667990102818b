// The broker's acl_file and password_file readers on arbitrary text: each returns a value or throws
// mqttpki::Error (invalid_argument) with one line "FILE:LINE: ..."; a parsed ACL then answers decisions for
// identities and topics taken from the same input without crashing, and never lets a user name or client id
// containing '+' or '#' read or write anything.
#include <mqttpki/mqtt/topic.hpp>
#include <mqttpki/net/auth_files.hpp>
#include <mqttpki/pki/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

const char* const fuzz_target_name = "fuzz_auth_files";

using namespace mqttpki;
using fuzz_support::bug;

namespace {

void check_error(const Error& e, std::string_view file) {
  const std::string message = e.what();
  if (e.code() != Errc::invalid_argument) bug("unexpected error code", message);
  if (message.rfind(file, 0) != 0) bug("message does not name the file", message);
  if (message.find('\n') != std::string::npos) bug("message is not one line", message);
}

// Words of the input (split on blanks) as identities and topics.
std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size() && out.size() < 16) {
    const auto b = text.find_first_not_of(" \t\r\n", i);
    if (b == std::string_view::npos) break;
    auto e = text.find_first_of(" \t\r\n", b);
    if (e == std::string_view::npos) e = text.size();
    out.emplace_back(text.substr(b, e - b));
    i = e;
  }
  return out;
}

void exercise(const mqtt::Acl& acl, std::string_view text) {
  const auto w = words(text);
  auto shared = std::make_shared<const mqtt::Acl>(acl);
  for (std::size_t i = 0; i + 1 < w.size(); i += 2) {
    const std::string& user = w[i];
    const std::string& topic = w[i + 1];
    if (!mqtt::valid_topic_name(topic)) continue;
    for (const auto& identity : {std::optional<std::string>(user), std::optional<std::string>()}) {
      const mqtt::ClientAcl client(shared, identity, user);
      const bool dangerous = user.find_first_of("+#") != std::string::npos;
      for (auto access : {mqtt::acl_read, mqtt::acl_write}) {
        if (client.allows(topic, access) && dangerous) bug("a '+' or '#' identity was granted", user);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    exercise(*net::parse_acl_file(text, "fuzz.acl"), text);
  } catch (const Error& e) {
    check_error(e, "fuzz.acl");
  }
  try {
    const auto file = net::PasswordFile::parse(text, "fuzz.pw");
    // Verifying costs the hash's own iterations (up to 10,000,000): only cheap files are checked.
    if (file->size() <= 4 && text.find("$7$") == std::string_view::npos) {
      for (const auto& w : words(text)) (void)file->verify(w, std::vector<std::uint8_t>(w.begin(), w.end()));
    }
  } catch (const Error& e) {
    check_error(e, "fuzz.pw");
  }
  return 0;
}
