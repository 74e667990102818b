#include <mqttpki/mqtt/acl.hpp>
#include <mqttpki/mqtt/text_lines.hpp>
#include <mqttpki/mqtt/topic.hpp>

#include <fmt/format.h>

namespace mqttpki::mqtt {
namespace {

// Splits off the first word; `rest` keeps what follows, trimmed.
std::string_view first_word(std::string_view line, std::string_view& rest) {
  const auto e = line.find_first_of(blank_chars);
  rest = e == std::string_view::npos ? std::string_view{} : trim_blanks(line.substr(e));
  return line.substr(0, e);
}

std::optional<std::uint8_t> access_word(std::string_view w) {
  if (w == "read") return acl_read;
  if (w == "write") return acl_write;
  if (w == "readwrite") return acl_readwrite;
  if (w == "deny") return acl_deny;
  return std::nullopt;
}

// `topic|pattern [ACCESS] TOPIC`; with one word only, that word is the topic (readwrite), as in Mosquitto.
AclRule parse_rule(std::string_view keyword, std::string_view args, int line) {
  std::string_view topic;
  const std::string_view word = first_word(args, topic);
  if (word.empty())
    throw AclSyntaxError(line, fmt::format("'{}' needs a topic: '{} [read|write|readwrite|deny] TOPIC'", keyword,
                                           keyword));
  AclRule rule;
  if (topic.empty()) {
    topic = word;
  } else {
    const auto access = access_word(word);
    if (!access)
      throw AclSyntaxError(line, fmt::format("unknown access '{}'; use read, write, readwrite or deny", word));
    rule.access = *access;
  }
  if (!valid_topic_filter(topic))
    throw AclSyntaxError(line, fmt::format("'{}' is not a valid topic filter ('+' and '#' only as whole levels, "
                                           "'#' last)",
                                           topic));
  rule.topic = std::string(topic);
  return rule;
}

bool is_substituted_safely(std::string_view value) { return value.find('/') == std::string_view::npos; }

// The pattern with %u and %c replaced; nullopt when it does not apply to this client.
std::optional<std::string> substitute(const AclRule& p, const std::optional<std::string>& username,
                                      std::string_view client_id) {
  std::string out;
  const std::string_view t = p.topic;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '%' && i + 1 < t.size() && (t[i + 1] == 'u' || t[i + 1] == 'c')) {
      if (t[i + 1] == 'u' && !username) return std::nullopt;  // a %u pattern never applies to anonymous clients
      const std::string_view value = t[i + 1] == 'u' ? std::string_view(*username) : client_id;
      if (p.access != acl_deny && !is_substituted_safely(value)) return std::nullopt;
      out += value;
      ++i;
      continue;
    }
    out += t[i];
  }
  return out;
}

}  // namespace

Acl parse_acl(std::string_view text) {
  Acl acl;
  std::vector<AclRule>* section = &acl.anonymous;
  for_each_content_line(text, [&](int line, std::string_view raw) {
    std::string_view args;
    const std::string_view keyword = first_word(raw, args);
    if (keyword == "topic") {
      section->push_back(parse_rule(keyword, args, line));
    } else if (keyword == "pattern") {
      acl.patterns.push_back(parse_rule(keyword, args, line));
    } else if (keyword == "user") {
      if (args.empty()) throw AclSyntaxError(line, "'user' needs a user name: 'user NAME'");
      section = &acl.users[std::string(args)];
    } else {
      throw AclSyntaxError(line, fmt::format("unknown line starting '{}'; ACL lines are 'user NAME', "
                                             "'topic [ACCESS] TOPIC' and 'pattern [ACCESS] TOPIC'",
                                             keyword.substr(0, 40)));
    }
  });
  return acl;
}

ClientAcl::ClientAcl(std::shared_ptr<const Acl> acl_ptr, const std::optional<std::string>& username,
                     std::string_view client_id)
    : acl_(std::move(acl_ptr)) {
  const Acl& acl = *acl_;
  const auto dangerous = [](std::string_view s) { return s.find_first_of("+#") != std::string_view::npos; };
  refuse_all_ = dangerous(client_id) || (username && dangerous(*username));
  if (refuse_all_) return;
  if (!username) {
    section_ = &acl.anonymous;
  } else if (auto it = acl.users.find(*username); it != acl.users.end()) {
    section_ = &it->second;
  }
  for (const auto& p : acl.patterns) {
    if (auto topic = substitute(p, username, client_id)) patterns_.push_back(AclRule{std::move(*topic), p.access});
  }
}

bool ClientAcl::decide(const std::vector<AclRule>& rules, std::string_view topic, AclAccess access, bool& denied) {
  for (const auto& r : rules) {
    if (r.access == acl_deny && topic_matches(r.topic, topic)) {
      denied = true;
      return false;
    }
  }
  for (const auto& r : rules) {
    if ((r.access & access) != 0 && topic_matches(r.topic, topic)) return true;
  }
  return false;
}

bool ClientAcl::allows(std::string_view topic, AclAccess access) const {
  if (refuse_all_) return false;
  // As Mosquitto: $SYS is the broker's to write, and $share topics are for subscriptions only.
  if (topic.starts_with("$share")) return false;
  if (access == acl_write && topic.starts_with("$SYS")) return false;
  bool denied = false;
  if (section_ && decide(*section_, topic, access, denied)) return true;
  if (denied) return false;
  return decide(patterns_, topic, access, denied);
}

}  // namespace mqttpki::mqtt
