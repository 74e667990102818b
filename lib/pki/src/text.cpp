#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/text.hpp>

#include <fmt/format.h>

namespace mqttpki::pki {

namespace {

// Length of the UTF-8 sequence starting at text[i] and its code point, or 0 when it is not valid UTF-8
// (overlong forms, surrogates and values above U+10FFFF are invalid, as RFC 3629 says).
std::size_t utf8_at(std::string_view text, std::size_t i, char32_t& cp) {
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

bool is_control(char32_t cp) { return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F); }

}  // namespace

std::optional<std::string> text_problem(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const std::size_t len = utf8_at(text, i, cp);
    if (len == 0) return fmt::format("invalid UTF-8 at byte {}", i + 1);
    if (is_control(cp)) return fmt::format("a control character (U+{:04X})", static_cast<unsigned>(cp));
    i += len;
  }
  return std::nullopt;
}

std::string printable(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const std::size_t len = utf8_at(text, i, cp);
    if (len == 0 || is_control(cp)) {
      for (std::size_t k = 0; k < std::max<std::size_t>(len, 1); ++k)
        out += fmt::format("\\x{:02X}", static_cast<unsigned char>(text[i + k]));
      i += std::max<std::size_t>(len, 1);
      continue;
    }
    out.append(text.substr(i, len));
    i += len;
  }
  return out;
}

void check_names(const Name& subject, const std::vector<GeneralName>& sans) {
  for (const auto& entry : subject.entries())
    if (auto problem = text_problem(entry.value))
      throw Error(Errc::policy, fmt::format("the subject's {} \"{}\" holds {}; names may not contain control "
                                            "characters or invalid UTF-8 (make a new CSR)",
                                            entry.key, printable(entry.value), *problem));
  if (sans.size() > max_sans)
    throw Error(Errc::policy, fmt::format("{} subject alternative names requested; a certificate carries at most {} "
                                          "(make a CSR with the names clients actually use)",
                                          sans.size(), max_sans));
  std::size_t total = 0;
  for (const auto& san : sans) {
    total += san.value.size();
    if (auto problem = text_problem(san.value))
      throw Error(Errc::policy, fmt::format("the SAN \"{}\" holds {}; names may not contain control characters or "
                                            "invalid UTF-8",
                                            printable(san.value), *problem));
  }
  if (total > max_san_bytes)
    throw Error(Errc::policy, fmt::format("the subject alternative names add up to {} bytes, more than the {} a "
                                          "certificate may carry",
                                          total, max_san_bytes));
}

}  // namespace mqttpki::pki
