#pragma once
// Retained messages: one per topic name; a retained PUBLISH with an empty payload clears the topic.

#include <mqttpki/mqtt/message.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::mqtt {

class RetainedStore {
 public:
  // Stores or replaces the message for its topic; an empty payload removes it instead.
  void set(Message message);
  bool erase(std::string_view topic);
  [[nodiscard]] const Message* find(std::string_view topic) const;
  // Retained messages whose topic matches the (valid) filter, in topic order.
  [[nodiscard]] std::vector<const Message*> match(std::string_view filter) const;
  [[nodiscard]] std::size_t size() const noexcept { return messages_.size(); }

 private:
  std::map<std::string, Message, std::less<>> messages_;
};

}  // namespace mqttpki::mqtt
