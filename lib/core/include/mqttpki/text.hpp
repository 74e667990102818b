#pragma once
// Text that comes from outside (client ids, user names, topics, certificate names): UTF-8 decoding, control
// characters, and the one escaper that makes such text safe for a log line or a terminal. pki checks names
// with it; the broker's log lines show peer-chosen text through it. Header-only.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace mqttpki {

// Length of the UTF-8 sequence starting at text[i] and its code point, or 0 when it is not valid UTF-8
// (overlong forms, surrogates and values above U+10FFFF are invalid, as RFC 3629 says).
inline std::size_t utf8_at(std::string_view text, std::size_t i, char32_t& cp) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  std::size_t len = 0;
  char32_t min = 0;
  if (b0 < 0x80) return cp = b0, 1;
  if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F, min = 0x80;
  else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F, min = 0x800;
  else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07, min = 0x10000;
  else return 0;
  if (i + len > text.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// C0 controls (NUL, newline, escape, ...), DEL and C1 controls.
constexpr bool is_control(char32_t cp) noexcept { return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F); }

// `text` as a log line or a terminal shows it safely: control characters and bytes that are not UTF-8 become
// \xHH (one per byte), so that a peer can neither split a log line, forge one, nor move the cursor, and the
// bytes it sent can still be read back.
inline std::string printable(std::string_view text) {
  constexpr std::string_view hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const std::size_t len = utf8_at(text, i, cp);
    if (len != 0 && !is_control(cp)) {
      out.append(text.substr(i, len));
      i += len;
      continue;
    }
    for (const std::size_t end = i + std::max<std::size_t>(len, 1); i < end; ++i) {
      const auto b = static_cast<unsigned char>(text[i]);
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 0x0F];
    }
  }
  return out;
}

}  // namespace mqttpki
