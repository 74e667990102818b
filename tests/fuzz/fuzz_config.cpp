// The Mosquitto-syntax configuration reader on arbitrary text: parse_mosquitto_config either returns a
// configuration or throws mqttpki::Error (invalid_argument) with one line "FILE:LINE: ...".
#include <mqttpki/net/broker_config.hpp>
#include <mqttpki/error.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

const char* const fuzz_target_name = "fuzz_config";

using namespace mqttpki;
using fuzz_support::bug;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const net::BrokerConfig config = net::parse_mosquitto_config(text, "fuzz.conf");
    for (const auto& l : config.listeners) {
      (void)l.name();
      (void)l.bind_address();
      (void)config.anonymous_allowed(l);
      (void)net::is_loopback_address(l.address);
    }
  } catch (const Error& e) {
    const std::string message = e.what();
    if (e.code() != Errc::invalid_argument) bug("unexpected error code", message);
    if (message.rfind("fuzz.conf", 0) != 0) bug("message does not name the file", message);
    if (message.find('\n') != std::string::npos) bug("message is not one line", message);
  }
  (void)net::is_loopback_address(text);
  return 0;
}
