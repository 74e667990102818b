// mqttpki verify: prove a certificate set end to end before it is copied to a device, or check a real
// broker from the device side.

#include "command.hpp"
#include "mqtt_common.hpp"
#include "pki_common.hpp"

#include <mqttpki/mqtt/topic.hpp>
#include <mqttpki/net/verify.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/store/ca_folder.hpp>
#include <mqttpki/store/files.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <ostream>

namespace mqttpki::cli {
namespace {

net::InputFile read_input(const std::string& path) {
  auto data = store::read_file(path);
  return {path, pki::Bytes(data.begin(), data.end())};
}

class VerifyCommand final : public Command {
 public:
  void configure(CLI::App& app) override {
    add_dir_option(app, dir_);
    app.add_option("--server", server_, "Server certificate NAME in the CA folder (DIR/issued/NAME.crt)");
    app.add_option("--client", client_, "Client certificate NAME in the CA folder (DIR/issued/NAME.crt)");
    app.add_option("--host", host_, "Host name or IP address the clients will dial (checked against the SAN)")
        ->capture_default_str();
    app.add_option("--cafile", cafile_, "CA certificate (default: DIR/ca.crt)");
    app.add_option("--server-cert", server_cert_, "Server certificate file (instead of --server NAME)");
    app.add_option("--server-key", server_key_, "Server private key file (needed for the live check)");
    app.add_option("--client-cert", client_cert_, "Client certificate file (instead of --client NAME)");
    app.add_option("--client-key", client_key_, "Client private key file (needed for the live check)");
    app.add_option("--crlfile", crlfile_, "CRL to check against (default: DIR/crl.pem when it exists)");
    app.add_flag("--static-only", static_only_, "Only the checks that need no private key and no broker (the keys may then be left out); says which it skipped");
    app.add_option("--broker", broker_, "Check a running broker HOST:PORT from the device side instead");
    app.add_option("--cert", cert_, "With --broker: the client certificate");
    app.add_option("--key", key_, "With --broker: the client private key");
    add_mqtt_login_options(app, username_, password_, password_file_);
    app.add_option("--topic", topic_,
                   "With --broker: check whether this identity may publish to and read TOPIC (an ACL check)");
    app.add_option("--reader-cert", reader_cert_,
                   "With --topic: certificate of an identity that may read TOPIC (e.g. the logger), so that a "
                   "publish is seen to pass even when this identity may not read it back");
    app.add_option("--reader-key", reader_key_, "With --reader-cert: its private key");
    app.add_option("--timeout", timeout_s_, "Seconds to wait for each network step")->capture_default_str();
    app.add_flag("--json", json_, "Print the checklist as JSON");
    app.footer(
        "Exit status: 0 when every check passes, 3 when a check fails, 1 or 2 on errors.\n"
        "Examples:\n"
        "  mqttpki verify --server server --server-key server.key --client pi1 --client-key pi1.key --host localhost\n"
        "  mqttpki verify --broker mqtt.example.com:8883 --cafile ca_cert.pem --cert pi1_cert.pem --key pi1_key.pem\n"
        "  mqttpki verify --broker mqtt.example.com:8883 --cafile ca.crt --cert pi1.crt --key pi1.key --topic "
        "sensors/pi1/temp");
  }

  int run(Context& ctx) override {
    net::CheckReport report;
    std::string title;
    if (!broker_.empty()) {
      const HostPort where = parse_host_port("--broker", broker_);
      net::RemoteCheckOptions o;
      o.host = where.host;
      o.port = where.port;
      o.cafile = cafile_.empty() ? (std::filesystem::path(dir_) / "ca.crt").string() : cafile_;
      o.certfile = cert_;
      o.keyfile = key_;
      if (cert_.empty() != key_.empty() || (cert_.empty() && username_.empty())) {
        throw Error(Errc::invalid_argument, "--broker needs the device's --cert FILE and --key FILE, or -u USER");
      }
      if (!topic_.empty() && !mqtt::valid_topic_name(topic_))
        throw Error(Errc::invalid_argument,
                    fmt::format("--topic '{}' is not a topic name (no '+' or '#'): name one topic a device uses",
                                topic_));
      for (const auto& f : {o.cafile, o.certfile, o.keyfile, reader_cert_, reader_key_})
        if (!f.empty()) (void)store::read_file(f);  // clear error if missing
      if (!username_.empty()) o.username = username_;
      o.password = mqtt_password(username_, password_, password_file_);
      o.topic = topic_;
      if (!reader_cert_.empty() || !reader_key_.empty()) {
        if (reader_cert_.empty() || reader_key_.empty() || topic_.empty())
          throw Error(Errc::invalid_argument, "--reader-cert and --reader-key go together, with --topic");
        o.reader = net::RemoteReader{reader_cert_, reader_key_, std::nullopt, std::nullopt};
      }
      for (const auto& f : {o.cafile, o.certfile, o.keyfile}) (void)store::read_file(f);  // clear error if missing
      pki_common::warn_loose_key(ctx, "verify", key_);
      o.timeout = std::chrono::seconds(timeout_s_);
      title = fmt::format("broker {}", broker_);
      report = net::check_remote_broker(o);
    } else {
      report = check_set(title);
      for (const auto& key : {server_key_, client_key_}) pki_common::warn_loose_key(ctx, "verify", key);
    }
    print(ctx, title, report);
    if (!report.ok()) throw Error(Errc::verify_failed, fmt::format("{} check(s) failed", report.failures()));
    return 0;
  }

 private:
  net::CheckReport check_set(std::string& title) {
    namespace fs = std::filesystem;
    const fs::path dir(dir_);
    const bool uses_dir = cafile_.empty() || server_cert_.empty() || client_cert_.empty();
    if (server_.empty() && server_cert_.empty()) {
      throw Error(Errc::invalid_argument, "say which server certificate to check: --server NAME or --server-cert FILE");
    }
    if (client_.empty() && client_cert_.empty()) {
      throw Error(Errc::invalid_argument, "say which client certificate to check: --client NAME or --client-cert FILE");
    }
    std::optional<store::CaFolder> folder;
    if (uses_dir) folder = store::CaFolder::open(dir);
    auto issued = [&](const std::string& name) { return folder->layout().issued_cert(name).string(); };

    net::SetupCheckOptions o;
    o.host = host_;
    o.live = !static_only_;
    o.timeout = std::chrono::seconds(timeout_s_);
    o.ca = read_input(cafile_.empty() ? folder->layout().ca_cert.string() : cafile_);
    o.server_cert = read_input(server_cert_.empty() ? issued(server_) : server_cert_);
    o.client_cert = read_input(client_cert_.empty() ? issued(client_) : client_cert_);
    if ((server_key_.empty() || client_key_.empty()) && !static_only_) {
      throw Error(Errc::invalid_argument,
                  fmt::format("give the private keys with --server-key FILE and --client-key FILE (keys are not kept "
                              "in the CA folder {}; they stay on the host that made them), or --static-only for "
                              "the checks that need no key", dir_));
    }
    if (!server_key_.empty()) o.server_key = read_input(server_key_);
    if (!client_key_.empty()) o.client_key = read_input(client_key_);
    std::string crl = crlfile_;
    if (crl.empty() && folder && store::path_exists(dir / "crl.pem")) crl = (dir / "crl.pem").string();
    if (!crl.empty()) o.crl = read_input(crl);
    if (folder) {
      for (const auto& e : folder->open_index().revoked()) o.revoked_serials.push_back(e.serial);
    }
    title = fmt::format("server '{}' and client '{}' for host '{}'", server_.empty() ? server_cert_ : server_,
                        client_.empty() ? client_cert_ : client_, host_);
    return net::check_setup(o);
  }

  void print(Context& ctx, const std::string& title, const net::CheckReport& report) const {
    if (json_) {
      nlohmann::ordered_json j;
      j["subject"] = title;
      j["ok"] = report.ok();
      j["checks"] = nlohmann::json::array();
      for (const auto& i : report.items) j["checks"].push_back({{"check", i.what}, {"ok", i.ok}, {"detail", i.detail}});
      j["skipped"] = report.skipped;
      ctx.out << j.dump(2) << "\n";
      return;
    }
    ctx.out << fmt::format("Checking {}\n", title);
    for (const auto& i : report.items) {
      ctx.out << fmt::format("  [{}] {}{}\n", i.ok ? " ok " : "FAIL", i.what, i.detail.empty() ? "" : ": " + i.detail);
    }
    for (const auto& skipped : report.skipped) ctx.out << fmt::format("  [skip] {}\n", skipped);
    if (report.ok() && !report.skipped.empty()) {
      ctx.out << fmt::format("PASS: every check run passed; {} skipped (run them where the keys are).\n",
                             report.skipped.size());
    } else if (report.ok()) {
      ctx.out << "PASS: every check passed; these certificates work with verification on.\n";
    } else {
      ctx.out << fmt::format("FAIL: {} of {} checks failed.\n", report.failures(), report.items.size());
    }
  }

  std::string dir_, server_, client_, host_ = "localhost", cafile_, server_cert_, server_key_, client_cert_,
      client_key_, crlfile_, broker_, cert_, key_, username_, password_, password_file_, topic_, reader_cert_, reader_key_;
  bool static_only_ = false;
  bool json_ = false;
  int timeout_s_ = 10;
};

}  // namespace

MQTTPKI_REGISTER_COMMAND(VerifyCommand, "verify", 140,
                         "Prove a server/client certificate set end to end, or check a running broker")

}  // namespace mqttpki::cli
