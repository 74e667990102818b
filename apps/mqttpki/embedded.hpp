#pragma once
// The files of templates/, compiled into the binary (cmake/EmbedFiles.cmake) so `mqttpki template` works
// without an installed share/ folder.
#include <string_view>
#include <vector>

namespace mqttpki::cli {

struct EmbeddedFile {
  std::string_view name;  // base name, e.g. "mosquitto-tls.conf"
  std::string_view data;
};

const std::vector<EmbeddedFile>& embedded_files();

}  // namespace mqttpki::cli
