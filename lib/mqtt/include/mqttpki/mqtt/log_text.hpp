#pragma once
// Peer-chosen text (client ids, user names, topics, certificate names) made safe for one log line.

#include <string>
#include <string_view>

namespace mqttpki::mqtt {

// ASCII control characters (including newline, carriage return, escape and NUL) and DEL become '?', so
// that a peer cannot split a log line or forge one.
[[nodiscard]] std::string printable(std::string_view text);

}  // namespace mqttpki::mqtt
