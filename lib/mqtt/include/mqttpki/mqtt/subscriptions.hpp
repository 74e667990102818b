#pragma once
// The subscription table: client id -> topic filters with their QoS, stored in a topic tree so that
// matching a topic walks its levels instead of scanning every subscription.

#include <mqttpki/mqtt/packet.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mqttpki::mqtt {

struct Subscriber {
  std::string_view client_id;  // owned by the table; valid until the table is next modified
  QoS qos;
  friend bool operator==(const Subscriber&, const Subscriber&) = default;
};

class SubscriptionTable {
 public:
  SubscriptionTable();
  ~SubscriptionTable();
  SubscriptionTable(SubscriptionTable&&) noexcept;
  SubscriptionTable& operator=(SubscriptionTable&&) noexcept;

  // Adds the subscription or replaces the QoS of an identical filter. The filter must be valid.
  // Returns true when the filter is new for this client.
  bool subscribe(std::string_view client_id, std::string_view filter, QoS qos);
  // Returns true when the client had this filter.
  bool unsubscribe(std::string_view client_id, std::string_view filter);
  // Removes every subscription of the client; returns how many.
  std::size_t remove_client(std::string_view client_id);

  // Every subscriber with a filter matching the topic name, once each, with the highest QoS among
  // its matching filters. Appends to `out` (cleared first).
  void match(std::string_view topic, std::vector<Subscriber>& out) const;
  [[nodiscard]] std::vector<Subscriber> match(std::string_view topic) const;

  [[nodiscard]] std::size_t size() const noexcept;                       // (client, filter) pairs
  [[nodiscard]] std::size_t count(std::string_view client_id) const;     // filters of one client
  [[nodiscard]] bool has(std::string_view client_id, std::string_view filter) const;
  // The client's filters, sorted.
  [[nodiscard]] std::vector<std::pair<std::string, QoS>> filters(std::string_view client_id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mqttpki::mqtt
