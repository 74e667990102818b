#include <mqttpki/mqtt/log_text.hpp>

namespace mqttpki::mqtt {

std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = '?';
  }
  return out;
}

}  // namespace mqttpki::mqtt
