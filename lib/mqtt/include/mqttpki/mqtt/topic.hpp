#pragma once
// Topic names, topic filters and matching (MQTT 3.1.1 section 4.7).

#include <string_view>

namespace mqttpki::mqtt {

// A topic name to publish to: non-empty, valid MQTT UTF-8, no '+' or '#'.
[[nodiscard]] bool valid_topic_name(std::string_view name) noexcept;

// A topic filter to subscribe with: non-empty, valid MQTT UTF-8, '+' only as a whole level,
// '#' only as the whole last level.
[[nodiscard]] bool valid_topic_filter(std::string_view filter) noexcept;

// Whether a valid filter matches a valid topic name. Filters starting with a wildcard do not match
// topic names starting with '$' ($SYS/...).
[[nodiscard]] bool topic_matches(std::string_view filter, std::string_view name) noexcept;

}  // namespace mqttpki::mqtt
