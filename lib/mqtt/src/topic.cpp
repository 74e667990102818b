#include <mqttpki/mqtt/codec.hpp>
#include <mqttpki/mqtt/topic.hpp>

namespace mqttpki::mqtt {

bool valid_topic_name(std::string_view name) noexcept {
  return !name.empty() && name.find_first_of("+#") == std::string_view::npos && valid_mqtt_utf8(name);
}

bool valid_topic_filter(std::string_view filter) noexcept {
  if (filter.empty() || !valid_mqtt_utf8(filter)) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = filter.find('/', start);
    const bool last = slash == std::string_view::npos;
    const std::string_view level = filter.substr(start, last ? std::string_view::npos : slash - start);
    if (level == "#") {
      if (!last) return false;
    } else if (level != "+" && level.find_first_of("+#") != std::string_view::npos) {
      return false;
    }
    if (last) return true;
    start = slash + 1;
  }
}

bool topic_matches(std::string_view filter, std::string_view name) noexcept {
  if (filter.empty() || name.empty()) return false;
  // [MQTT-4.7.2-1]: wildcards at the first level do not match $-topics.
  if (name.front() == '$' && (filter.front() == '+' || filter.front() == '#')) return false;
  while (true) {
    const std::size_t fslash = filter.find('/');
    const std::string_view flevel = filter.substr(0, fslash);
    if (flevel == "#") return true;  // also matches the parent level ("a/#" matches "a")
    const std::size_t nslash = name.find('/');
    const std::string_view nlevel = name.substr(0, nslash);
    if (flevel != "+" && flevel != nlevel) return false;
    const bool flast = fslash == std::string_view::npos;
    const bool nlast = nslash == std::string_view::npos;
    if (flast && nlast) return true;
    if (nlast) return filter.substr(fslash + 1) == "#";
    if (flast) return false;
    filter.remove_prefix(fslash + 1);
    name.remove_prefix(nslash + 1);
  }
}

}  // namespace mqttpki::mqtt
