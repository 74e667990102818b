// mqttpki template: render the ready-to-paste files (Mosquitto, Node-RED, paho, cron, systemd).

#include "command.hpp"
#include "template_render.hpp"

#include <mqttpki/error.hpp>
#include <mqttpki/store/files.hpp>

#include <fmt/format.h>

#include <map>
#include <ostream>

namespace mqttpki::cli {
namespace {

class TemplateCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("name", name_, "Template to render, or 'list' to show them all")->required();
    app.add_option("--set", sets_, "Override a variable: --set key=value (repeatable)");
    app.add_option("--out", out_, "Write to FILE (atomically) instead of standard output");
    app.add_flag("--force", force_, "Overwrite --out if it exists");
    app.footer(
        "Examples:\n"
        "  mqttpki template list\n"
        "  mqttpki template mosquitto-tls --set cert_dir=/etc/mosquitto/certs --set server_name=mqtt.example.com\n"
        "  mqttpki template node-red-tls --set broker_host=mqtt.example.com --set client_name=pi1 --out flow.json");
  }

  int run(Context& ctx) override {
    if (name_ == "list") {
      for (const auto& t : list_templates()) {
        ctx.out << fmt::format("{:<24} {}\n", t.name, t.description);
        for (const auto& [var, def] : t.vars) ctx.out << fmt::format("    {}={}\n", var, def);
      }
      return 0;
    }
    std::map<std::string, std::string> values;
    for (const auto& s : sets_) {
      auto eq = s.find('=');
      if (eq == std::string::npos || eq == 0) {
        throw Error(Errc::invalid_argument, fmt::format("--set '{}': write it as key=value", s));
      }
      values[s.substr(0, eq)] = s.substr(eq + 1);
    }
    std::string text = render_template(name_, values);
    if (out_.empty()) {
      ctx.out << text;
    } else {
      store::write_file_atomic(out_, text, store::mode_public, force_);
      ctx.err << fmt::format("wrote {}\n", out_);
    }
    return 0;
  }

 private:
  std::string name_;
  std::vector<std::string> sets_;
  std::string out_;
  bool force_ = false;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(TemplateCommand, "template", 150,
                         "Render a ready-to-use config file (Mosquitto, Node-RED, paho, cron, systemd)")

}  // namespace mqttpki::cli
