#include <mqttpki/mqtt/retained.hpp>
#include <mqttpki/mqtt/topic.hpp>

namespace mqttpki::mqtt {

void RetainedStore::set(Message message) {
  if (!message.payload || message.payload->empty()) {
    erase(message.topic);
    return;
  }
  message.retain = true;
  auto it = messages_.find(message.topic);
  if (it != messages_.end()) {
    it->second = std::move(message);
  } else {
    std::string key = message.topic;
    messages_.emplace(std::move(key), std::move(message));
  }
}

bool RetainedStore::erase(std::string_view topic) {
  auto it = messages_.find(topic);
  if (it == messages_.end()) return false;
  messages_.erase(it);
  return true;
}

const Message* RetainedStore::find(std::string_view topic) const {
  auto it = messages_.find(topic);
  return it == messages_.end() ? nullptr : &it->second;
}

std::vector<const Message*> RetainedStore::match(std::string_view filter) const {
  std::vector<const Message*> out;
  const std::size_t wildcard = filter.find_first_of("+#");
  if (wildcard == std::string_view::npos) {
    if (const auto* m = find(filter)) out.push_back(m);
    return out;
  }
  // Every match starts with the literal part before the first wildcard (minus its trailing '/',
  // since "a/#" also matches "a"): scan only that key range.
  std::string_view prefix = filter.substr(0, wildcard);
  if (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  for (auto it = messages_.lower_bound(prefix); it != messages_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (topic_matches(filter, it->first)) out.push_back(&it->second);
  }
  return out;
}

}  // namespace mqttpki::mqtt
