#pragma once
// Mosquitto's line-oriented files (acl_file, password_file): each line trimmed of blanks, blank lines and lines
// starting with '#' skipped. Pure text; shared by the ACL reader here and lib/net's password_file reader.

#include <string_view>

namespace mqttpki::mqtt {

inline constexpr std::string_view blank_chars = " \t\r\n\v\f";

[[nodiscard]] inline std::string_view trim_blanks(std::string_view s) {
  const auto b = s.find_first_not_of(blank_chars);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(blank_chars) - b + 1);
}

// Calls f(line_number, trimmed_line) for each line with content; line numbers start at 1.
template <class F>
void for_each_content_line(std::string_view text, F&& f) {
  int line = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view content = trim_blanks(text.substr(pos, end - pos));
    pos = end + 1;
    ++line;
    if (!content.empty() && content.front() != '#') f(line, content);
  }
}

}  // namespace mqttpki::mqtt
