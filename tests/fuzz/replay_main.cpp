// A standalone main for the fuzz targets, so the normal (gcc) build replays the checked-in corpus and the
// regression inputs through them as a CTest test, without libFuzzer:
//   fuzz_replay_X [--mutate] FILE_OR_DIR...
// Each file is fed to LLVMFuzzerTestOneInput once; with --mutate also every prefix (truncation) at a few
// cut points and a few deterministic byte flips, a cheap smoke run of the paths bad input takes.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void run(const std::vector<std::uint8_t>& bytes) {
  // A copy in a buffer of exactly its size, so a sanitizer build sees reads past the end.
  std::vector<std::uint8_t> exact(bytes);
  LLVMFuzzerTestOneInput(exact.empty() ? nullptr : exact.data(), exact.size());
}

void run_mutations(const std::vector<std::uint8_t>& bytes) {
  const std::size_t n = bytes.size();
  for (std::size_t cut : {n / 4, n / 2, (3 * n) / 4, n > 0 ? n - 1 : 0, n > 16 ? n - 16 : 0})
    run(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut)));
  std::uint32_t state = static_cast<std::uint32_t>(n) * 2654435761U + 1U;
  for (int i = 0; i < 8 && n > 0; ++i) {
    state = state * 1664525U + 1013904223U;
    std::vector<std::uint8_t> flipped(bytes);
    flipped[state % n] ^= static_cast<std::uint8_t>(1U << ((state >> 8) % 8));
    run(flipped);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool mutate = false;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--mutate") {
      mutate = true;
      continue;
    }
    const std::filesystem::path p(arg);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (std::filesystem::exists(p)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "no such file or folder: %s\n", arg.c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s [--mutate] FILE_OR_DIR...: no inputs found\n", argv[0]);
    return 2;
  }
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    run(bytes);
    if (mutate) run_mutations(bytes);
  }
  std::printf("%zu inputs replayed%s\n", files.size(), mutate ? " (with truncations and byte flips)" : "");
  return 0;
}
