#include <mqttpki/pki/error.hpp>
#include <mqttpki/pki/text.hpp>
#include <mqttpki/text.hpp>

#include <fmt/format.h>

namespace mqttpki::pki {

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
