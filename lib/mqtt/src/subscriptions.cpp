#include <mqttpki/mqtt/subscriptions.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_map>

namespace mqttpki::mqtt {
namespace {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct Node {
  StringMap<std::unique_ptr<Node>> children;
  std::map<std::string, QoS, std::less<>> subscribers;  // client id -> QoS

  [[nodiscard]] const Node* child(std::string_view level) const {
    auto it = children.find(level);
    return it == children.end() ? nullptr : it->second.get();
  }
  [[nodiscard]] bool empty() const { return children.empty() && subscribers.empty(); }
};

// Calls f(level) for each '/'-separated level (empty levels included).
template <class F>
void for_each_level(std::string_view topic, F&& f) {
  while (true) {
    const std::size_t slash = topic.find('/');
    f(topic.substr(0, slash));
    if (slash == std::string_view::npos) return;
    topic.remove_prefix(slash + 1);
  }
}

void add_all(const Node& n, std::vector<Subscriber>& out) {
  for (const auto& [client, qos] : n.subscribers) out.push_back({client, qos});
}

void match_node(const Node& n, const std::vector<std::string_view>& levels, std::size_t i, bool dollar,
                std::vector<Subscriber>& out) {
  // [MQTT-4.7.2-1]: wildcards at the first level skip $-topics.
  const bool wildcards = !(i == 0 && dollar);
  if (wildcards) {
    if (const Node* hash = n.child("#")) add_all(*hash, out);  // also matches the parent level
  }
  if (i == levels.size()) {
    add_all(n, out);
    return;
  }
  if (wildcards) {
    if (const Node* plus = n.child("+")) match_node(*plus, levels, i + 1, dollar, out);
  }
  if (const Node* exact = n.child(levels[i])) match_node(*exact, levels, i + 1, dollar, out);
}

// Removes the client's subscription at `filter`, pruning emptied nodes. Returns whether it existed.
bool erase_path(Node& n, std::string_view rest, std::string_view client) {
  const std::size_t slash = rest.find('/');
  const std::string_view level = rest.substr(0, slash);
  auto it = n.children.find(level);
  if (it == n.children.end()) return false;
  Node& c = *it->second;
  bool removed = false;
  if (slash == std::string_view::npos) {
    auto s = c.subscribers.find(client);
    if (s != c.subscribers.end()) {
      c.subscribers.erase(s);
      removed = true;
    }
  } else {
    removed = erase_path(c, rest.substr(slash + 1), client);
  }
  if (c.empty()) n.children.erase(it);
  return removed;
}

}  // namespace

struct SubscriptionTable::Impl {
  Node root;
  StringMap<std::map<std::string, QoS, std::less<>>> clients;  // client id -> filter -> QoS
  std::size_t total = 0;
};

SubscriptionTable::SubscriptionTable() : impl_(std::make_unique<Impl>()) {}
SubscriptionTable::~SubscriptionTable() = default;
SubscriptionTable::SubscriptionTable(SubscriptionTable&&) noexcept = default;
SubscriptionTable& SubscriptionTable::operator=(SubscriptionTable&&) noexcept = default;

bool SubscriptionTable::subscribe(std::string_view client_id, std::string_view filter, QoS qos) {
  Node* n = &impl_->root;
  for_each_level(filter, [&](std::string_view level) {
    auto it = n->children.find(level);
    if (it == n->children.end()) it = n->children.emplace(std::string(level), std::make_unique<Node>()).first;
    n = it->second.get();
  });
  auto [sit, inserted] = n->subscribers.try_emplace(std::string(client_id), qos);
  if (!inserted) sit->second = qos;
  auto cit = impl_->clients.find(client_id);
  if (cit == impl_->clients.end()) cit = impl_->clients.emplace(std::string(client_id), std::map<std::string, QoS, std::less<>>{}).first;
  cit->second.insert_or_assign(std::string(filter), qos);
  if (inserted) ++impl_->total;
  return inserted;
}

bool SubscriptionTable::unsubscribe(std::string_view client_id, std::string_view filter) {
  auto cit = impl_->clients.find(client_id);
  if (cit == impl_->clients.end()) return false;
  auto fit = cit->second.find(filter);
  if (fit == cit->second.end()) return false;
  erase_path(impl_->root, filter, client_id);
  cit->second.erase(fit);
  if (cit->second.empty()) impl_->clients.erase(cit);
  --impl_->total;
  return true;
}

std::size_t SubscriptionTable::remove_client(std::string_view client_id) {
  auto cit = impl_->clients.find(client_id);
  if (cit == impl_->clients.end()) return 0;
  const std::size_t n = cit->second.size();
  for (const auto& [filter, qos] : cit->second) erase_path(impl_->root, filter, client_id);
  impl_->clients.erase(cit);
  impl_->total -= n;
  return n;
}

void SubscriptionTable::match(std::string_view topic, std::vector<Subscriber>& out) const {
  out.clear();
  if (topic.empty()) return;
  std::vector<std::string_view> levels;
  levels.reserve(8);
  for_each_level(topic, [&](std::string_view level) { levels.push_back(level); });
  match_node(impl_->root, levels, 0, topic.front() == '$', out);
  if (out.size() < 2) return;
  // Overlapping filters of one client: deliver once, at the highest QoS.
  std::sort(out.begin(), out.end(), [](const Subscriber& a, const Subscriber& b) {
    return a.client_id != b.client_id ? a.client_id < b.client_id : a.qos > b.qos;
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const Subscriber& a, const Subscriber& b) { return a.client_id == b.client_id; }),
            out.end());
}

std::vector<Subscriber> SubscriptionTable::match(std::string_view topic) const {
  std::vector<Subscriber> out;
  match(topic, out);
  return out;
}

std::size_t SubscriptionTable::size() const noexcept { return impl_->total; }

std::size_t SubscriptionTable::count(std::string_view client_id) const {
  auto cit = impl_->clients.find(client_id);
  return cit == impl_->clients.end() ? 0 : cit->second.size();
}

bool SubscriptionTable::has(std::string_view client_id, std::string_view filter) const {
  auto cit = impl_->clients.find(client_id);
  return cit != impl_->clients.end() && cit->second.find(filter) != cit->second.end();
}

std::vector<std::pair<std::string, QoS>> SubscriptionTable::filters(std::string_view client_id) const {
  std::vector<std::pair<std::string, QoS>> out;
  auto cit = impl_->clients.find(client_id);
  if (cit != impl_->clients.end()) out.assign(cit->second.begin(), cit->second.end());
  return out;
}

}  // namespace mqttpki::mqtt
