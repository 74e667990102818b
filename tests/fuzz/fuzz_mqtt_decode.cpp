// Decoder and frame reader on arbitrary bytes: never crash, and whatever decodes re-encodes to
// the same bytes (the encoding of a valid packet is unique in MQTT 3.1.1, except for
// non-minimal remaining lengths, which are normalised).
#include <mqttpki/mqtt/codec.hpp>
#include <mqttpki/mqtt/topic.hpp>

#include <cstdlib>
#include <span>

using namespace mqttpki::mqtt;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);

  // One whole packet.
  auto one = decode(input, DecodeOptions{64 * 1024});
  if (one) {
    const auto bytes = encode(*one);
    auto again = decode(bytes);
    if (!again || !(*again == *one)) std::abort();
  }

  // The same bytes as a stream split in two at a data-dependent point.
  FrameReader reader(64 * 1024);
  const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
  reader.feed(input.first(split));
  for (int round = 0; round < 2; ++round) {
    while (true) {
      auto next = reader.next();
      if (!next || !next.value()) break;
      (void)to_string(*next.value());
    }
    if (round == 0) reader.feed(input.subspan(split));
  }

  // Topic rules on the input as a string.
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  if (valid_topic_name(s) && !valid_topic_filter(s)) std::abort();  // every name is a filter
  if (valid_topic_name(s) && !topic_matches(s, s)) std::abort();
  return 0;
}
