#pragma once
// Access control with Mosquitto 2.0's acl_file syntax and meaning, without I/O.
//
// The file: `topic [read|write|readwrite|deny] TOPIC` lines before any `user` line form the anonymous
// section (clients without a user name); after `user NAME` they belong to that user; `pattern [ACCESS] TOPIC`
// lines apply to every client, wherever they stand, with %u replaced by the user name and %c by the client id.
// ACL topics may hold MQTT wildcards. Lines starting with '#' and blank lines are ignored.
//
// The decision for one client and one topic, in Mosquitto 2.0.11's order (measured against it, see
// tests/interop/test_acl_interop.sh): a matching `deny` line of the client's section refuses; then a matching
// line of that section with the access allows; then the same two steps over the patterns; otherwise refused.
// Like Mosquitto, a client whose user name or client id contains '+' or '#' is refused everything (its %u/%c
// would otherwise widen a pattern), and nobody may write to $SYS or $share topics.
// Stricter than Mosquitto: a user name or client id containing '/' gets nothing from an allowing pattern that
// substitutes it (user "a/b" would otherwise reach into user "a"'s `sensors/%u/#`); denying patterns still apply.
// SUBSCRIBE is never refused by the ACL (Mosquitto 2.0 grants it too); read access is checked for each
// message at delivery, retained ones included.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::mqtt {

enum AclAccess : std::uint8_t { acl_deny = 0, acl_read = 1, acl_write = 2, acl_readwrite = 3 };

struct AclRule {
  std::string topic;  // a valid topic filter (for patterns: before substitution)
  std::uint8_t access = acl_readwrite;  // AclAccess bits; acl_deny (0) refuses
  bool operator==(const AclRule&) const = default;
};

struct Acl {
  std::vector<AclRule> anonymous;                                    // before the first `user` line
  std::map<std::string, std::vector<AclRule>, std::less<>> users;  // a user named twice: rules joined
  std::vector<AclRule> patterns;
};

// A line the parser refuses: its number (from 1) and what is wrong with the fix, one line.
class AclSyntaxError : public std::runtime_error {
 public:
  AclSyntaxError(int line, const std::string& what) : std::runtime_error(what), line_(line) {}
  [[nodiscard]] int line() const noexcept { return line_; }

 private:
  int line_;
};

// Parses acl_file text; throws AclSyntaxError on the first bad line (Mosquitto refuses to start on the same).
[[nodiscard]] Acl parse_acl(std::string_view text);

// The rules for one connected client, compiled once at CONNECT (patterns substituted), so that a check is a
// walk over the few rules that can apply to it. Keeps `acl` alive (a reload swaps in a new one).
class ClientAcl {
 public:
  ClientAcl(std::shared_ptr<const Acl> acl, const std::optional<std::string>& username, std::string_view client_id);
  [[nodiscard]] bool allows(std::string_view topic, AclAccess access) const;
  // The user name or client id contains '+' or '#': every topic is refused.
  [[nodiscard]] bool refuses_all() const noexcept { return refuse_all_; }

 private:
  static bool decide(const std::vector<AclRule>& rules, std::string_view topic, AclAccess access, bool& denied);
  std::shared_ptr<const Acl> acl_;
  const std::vector<AclRule>* section_ = nullptr;  // the user's (or anonymous) rules, or none
  std::vector<AclRule> patterns_;                   // substituted
  bool refuse_all_ = false;
};

}  // namespace mqttpki::mqtt
