#pragma once
// The broker's password_file and acl_file, in Mosquitto 2.0's formats, read into the values mqtt::BrokerCore
// applies (mqtt/acl.hpp for the ACL's meaning, pki/password_hash.hpp for the hashes). Read at start and on
// SIGHUP; a file that does not load refuses the start, or keeps the previous one on a reload.
//
// password_file: one `USER:HASH` line per user as mosquitto_passwd writes it; '#' comments and blank lines are
// skipped. Stricter than Mosquitto, which logs and drops a bad line: a line without ':', an empty user name, a
// user named twice or a hash that does not decode refuses the whole file, naming the line (never the hash).

#include <mqttpki/mqtt/broker_core.hpp>
#include <mqttpki/net/broker_config.hpp>
#include <mqttpki/pki/password_hash.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::net {

class PasswordFile final : public mqtt::PasswordCheck {
 public:
  // Throws mqttpki::Error (invalid_argument) "FILE:LINE: ..." on the first bad line.
  static std::shared_ptr<const PasswordFile> parse(std::string_view text, std::string_view filename);
  // An unknown user costs the same key derivation as a known one (no user enumeration by timing); a
  // missing password never matches.
  [[nodiscard]] bool verify(std::string_view username,
                            const std::optional<std::vector<std::uint8_t>>& password) const override;
  [[nodiscard]] std::size_t size() const noexcept { return users_.size(); }

 private:
  std::map<std::string, pki::PasswordHash, std::less<>> users_;
  pki::PasswordHash dummy_;  // for unknown users: the file's highest PBKDF2 cost
};

// Throws mqttpki::Error (invalid_argument) "FILE:LINE: ..." naming the fix.
[[nodiscard]] std::shared_ptr<const mqtt::Acl> parse_acl_file(std::string_view text, std::string_view filename);

// What one listener applies; null members: no such file.
struct ListenerAuth {
  std::shared_ptr<const PasswordFile> passwords;
  std::shared_ptr<const mqtt::Acl> acl;
};

// Reads the password_file and acl_file in effect for each listener (config.listeners order); a file named
// more than once is read once. Throws mqttpki::Error naming the file (and line) and the fix.
[[nodiscard]] std::vector<ListenerAuth> load_listener_auth(const BrokerConfig& config);

}  // namespace mqttpki::net
