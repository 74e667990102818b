#pragma once
// Renders the files of templates/ (embedded in the binary). A template is text with {{var}} placeholders;
// a line starting with {{?var}} is kept (without the marker) only when var is not empty, one starting with
// {{!var}} only when it is empty. Variables and their
// defaults come from templates/manifest.json; --set key=value overrides them.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mqttpki::cli {

struct TemplateInfo {
  std::string name;         // "mosquitto-tls"
  std::string file;         // "mosquitto-tls.conf"
  std::string description;
  std::vector<std::pair<std::string, std::string>> vars;  // name, default (manifest order)
};

std::vector<TemplateInfo> list_templates();

// Renders NAME with the defaults overridden by `set`. Throws mqttpki::Error (invalid_argument) for an unknown
// template or variable, listing what exists. Values are escaped for the target's string syntax (JSON, Python).
std::string render_template(std::string_view name, const std::map<std::string, std::string>& set);

}  // namespace mqttpki::cli
