#pragma once
// In-process broker on 127.0.0.1:0 on its own thread, certificates from make_test_certs.sh (made once
// per test run in a temp folder), and a log capture that tests wait on with a bound.

#include <mqttpki/net/broker.hpp>
#include <mqttpki/net/client.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace nettest {

namespace fs = std::filesystem;

inline const fs::path& certs() {
  static const fs::path dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "mqttpki-net-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    std::string cmd = std::string("sh '") + MQTTPKI_MAKE_TEST_CERTS + "' '" + tmpl + "' >/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    return fs::path(tmpl);
  }();
  return dir;
}

inline std::string cert(const std::string& name) { return (certs() / name).string(); }

class LogCapture {
 public:
  void add(std::string_view line) {
    std::lock_guard lock(mu_);
    lines_.emplace_back(line);
    cv_.notify_all();
  }
  // True once a line containing `text` was logged, waiting at most `limit`.
  bool wait_for(const std::string& text, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] {
      for (const auto& l : lines_)
        if (l.find(text) != std::string::npos) return true;
      return false;
    });
  }
  std::string all() {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

inline mqttpki::net::ListenerConfig tls_listener(bool require_certificate = true) {
  mqttpki::net::ListenerConfig l;
  l.port = 0;
  l.address = "127.0.0.1";
  l.cafile = cert("ca.crt");
  l.certfile = cert("server.crt");
  l.keyfile = cert("server.key");
  l.require_certificate = require_certificate;
  return l;
}

class RunningBroker {
 public:
  explicit RunningBroker(mqttpki::net::BrokerOptions options) {
    options.log = [this](std::string_view line) { log.add(line); };
    broker_ = std::make_unique<mqttpki::net::Broker>(std::move(options));
    bound = broker_->start();
    thread_ = std::thread([this] { broker_->run(); });
  }
  explicit RunningBroker(std::vector<mqttpki::net::ListenerConfig> listeners)
      : RunningBroker(make_options(std::move(listeners))) {}
  ~RunningBroker() {
    broker_->stop();
    thread_.join();
  }
  static mqttpki::net::BrokerOptions make_options(std::vector<mqttpki::net::ListenerConfig> listeners) {
    mqttpki::net::BrokerOptions o;
    o.config.listeners = std::move(listeners);
    return o;
  }
  mqttpki::net::Broker& broker() { return *broker_; }
  std::uint16_t port(std::size_t i = 0) const { return bound.at(i).port; }

  LogCapture log;
  std::vector<mqttpki::net::BoundListener> bound;

 private:
  std::unique_ptr<mqttpki::net::Broker> broker_;
  std::thread thread_;
};

inline mqttpki::net::ClientOptions client_options(std::uint16_t port, const std::string& name = "client") {
  mqttpki::net::ClientOptions o;
  o.host = "localhost";
  o.port = port;
  o.tls.enabled = true;
  o.tls.cafile = cert("ca.crt");
  o.tls.certfile = cert(name + ".crt");
  o.tls.keyfile = cert(name + ".key");
  o.timeout = std::chrono::seconds(5);
  return o;
}

// The message of the mqttpki::Error thrown by connect(), or "connected".
inline std::string connect_error(mqttpki::net::ClientOptions o) {
  mqttpki::net::Client c(std::move(o));
  try {
    c.connect();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "connected";
}

}  // namespace nettest
