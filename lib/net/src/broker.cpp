// The broker's I/O: accept, TLS handshake (with a deadline and a human reason for every refusal),
// then the connection's bytes to mqtt::BrokerCore from readiness callbacks. What the core sends a connection
// during one turn of the loop is written together (one TLS record for many packets, see Impl::send); a
// writer coroutine exists only while a connection has a backlog (or is closing).
// An idle connection costs its Conn, its SSL object, its core state and one pending async_wait on its socket
// (docs/benchmarks.md).
// Everything runs on the one io_context thread, so the shared state needs no locks.

#include <mqttpki/net/auth_files.hpp>
#include <mqttpki/net/broker.hpp>

#include "tls.hpp"
#include "transport.hpp"

#include <mqttpki/mqtt/broker_core.hpp>
#include <mqttpki/mqtt/codec.hpp>
#include <mqttpki/pki/error.hpp>
#include <mqttpki/text.hpp>

#include <asio.hpp>
#include <asio/ssl/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <limits>
#include <condition_variable>
#include <mutex>
#include <csignal>
#include <ctime>
#include <list>
#include <future>
#include <iostream>
#include <unordered_map>
#include <optional>
#include <utility>

namespace mqttpki::net {

std::string BoundListener::describe() const { return fmt::format("{}:{} ({})", address, port, tls ? "tls" : "plain"); }

namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using mqtt::ConnectionId;
using SslContextPtr = std::shared_ptr<SSL_CTX>;
using Want = detail::Transport::Want;

constexpr auto kLinger = std::chrono::seconds(2);  // after our FIN, how long the peer gets to close

void default_log(std::string_view line) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::cerr << fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z {}\n", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                           tm.tm_hour, tm.tm_min, tm.tm_sec, line)
            << std::flush;
}

SslContextPtr wrap(detail::SslCtxPtr ctx) { return SslContextPtr(ctx.release(), SSL_CTX_free); }

struct Listener {
  ListenerConfig cfg;
  detail::Transport::Acceptor acceptor;
  SslContextPtr ctx;  // the current one; connections keep the one they started with
  std::string name;
  ListenerAuth auth;  // password_file and acl_file in effect (swapped by a reload)
  std::size_t open = 0;  // its connections (a listener block's max_connections)
};

struct Conn {
  Conn(ConnectionId cid, detail::Transport::Socket socket) : id(cid), link(std::move(socket)) {}
  ConnectionId id;
  std::string peer;
  detail::Transport link;
  std::vector<std::uint8_t> out;  // sent by the core this turn, written when the turn ends (Broker::send)
  bool out_listed = false;         // in the broker's list of connections to write then
  std::list<std::vector<std::uint8_t>> queue;  // a list: an empty deque costs ~600 bytes per idle client
  std::size_t queued = 0;  // bytes in the queue not written yet
  std::string dead_reason;   // why we closed it ourselves, for the log
  // The connection's life, in this order (refused replaces admitted..closing).
  enum class Stage {
    accepted,  // TLS handshake running (a plain listener's connection skips it)
    refused,   // the handshake failed: lingers to deliver the alert (when the socket still works), then finished
    admitted,  // handshake over (or none); the core is not told yet
    open,      // the core knows the connection (on_open)
    closing,   // the core closed it and forgot the id: flush, FIN, linger
    finished,  // finish() ran: on_close sent if it was open, socket closed, entry removed
  };
  Stage stage = Stage::accepted;
  // Independent of the stage: the socket may close or fail in any stage (the reader or the waiter then
  // finishes the connection), and a writer coroutine runs whenever there is a backlog (open or closing).
  bool dead = false;  // the socket is closed or failing
  bool writer_running = false;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  Listener* listener = nullptr;  // its open count; its acl_file when reloaded
  std::string source;  // the peer's address without the port (max_handshakes_per_address)
  // In the broker's list of connections that have not sent an MQTT byte yet (handshake, then CONNECT).
  bool pending = false;
  std::list<ConnectionId>::iterator pending_at;

  void close_socket() { link.close(); }
  awaitable<void> write_all(std::span<const std::uint8_t> bytes, std::error_code& ec) {
    while (!bytes.empty()) {
      auto step = link.write_some(bytes, ec);
      if (ec) co_return;
      if (step.want != Want::nothing) {
        co_await link.wait(step.want, ec);
        if (ec) co_return;
        continue;
      }
      bytes = bytes.subspan(step.bytes);
      // Counted as they go: a queue entry can hold many packets, and the client may acknowledge the first
      // ones (making the core send more) before the entry is written out.
      queued -= step.bytes;
      bytes_out += step.bytes;
    }
  }
};

std::string endpoint_text(const tcp::endpoint& ep) {
  auto a = ep.address();
  return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), ep.port()) : fmt::format("{}:{}", a.to_string(), ep.port());
}

}  // namespace

struct Broker::Impl final : mqtt::BrokerOutput {
  explicit Impl(BrokerOptions o)
      : options(std::move(o)),
        core(make_limits(options), *this),
        tick_timer(io),
        signals(io) {
    if (!options.log) options.log = default_log;
  }

  static mqtt::BrokerLimits make_limits(const BrokerOptions& o) {
    mqtt::BrokerLimits limits;
    limits.max_connections = o.config.max_connections;
    if (o.config.max_queued_messages) limits.max_queued_messages = *o.config.max_queued_messages;
    if (o.config.max_inflight_messages) limits.max_inflight = *o.config.max_inflight_messages;
    limits.max_packet_size = o.max_packet_size;
    if (o.config.message_size_limit) {
      // Mosquitto's meaning: payloads up to the limit pass (the frame allows the largest topic around them);
      // larger ones are acknowledged and dropped by the core.
      constexpr std::size_t kFraming = 5 + 2 + 65535 + 2;
      const std::size_t payload = *o.config.message_size_limit;
      limits.max_payload_size = payload;
      limits.max_packet_size =
          payload == 0 ? mqtt::max_packet_size_limit : std::min(mqtt::max_packet_size_limit, payload + kFraming);
    }
    limits.persistent_session_expiry = o.config.persistent_client_expiration;
    limits.connect_timeout = o.connect_timeout;
    return limits;
  }

  // Declaration order matters: io outlives everything that holds sockets or timers.
  asio::io_context io;
  BrokerOptions options;
  mqtt::BrokerCore core;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::unordered_map<ConnectionId, std::shared_ptr<Conn>> conns;
  std::vector<std::shared_ptr<Conn>> gathered;  // connections with bytes to write when this turn ends
  bool flush_posted = false;
  std::list<ConnectionId> pending;  // connections that have not sent an MQTT byte yet, oldest first
  std::unordered_map<std::string, std::size_t> pending_from;  // how many of them per source address
  asio::steady_timer tick_timer;
  asio::signal_set signals;
  ConnectionId next_id = 1;
  std::array<std::uint8_t, 16 * 1024> read_buf{};  // one TLS record's plaintext; shared, see read_ready()
  bool started = false;
  bool stopping = false;
  std::atomic<bool> running{false};
  std::mutex run_mu;
  std::condition_variable run_cv;
  std::atomic<std::size_t> open_count{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> reloads{0};

  void log(std::string_view line) override { options.log(line); }

  std::size_t backlog(ConnectionId id) const override {
    auto it = conns.find(id);
    if (it == conns.end() || it->second->dead) return std::numeric_limits<std::size_t>::max();
    return it->second->queued + it->second->out.size();
  }

  // What the core sends to a connection during one turn of the loop (e.g. the PUBLISHes of everything just read
  // from a publisher) is gathered and written together, before the reader asks its socket for more
  // (read_ready) or at the latest when the turn ends: one TLS record and one send() for many packets, so the
  // subscriber decrypts one record and wakes once instead of once per packet. Never more than one record's
  // worth waits: beyond it the bytes go out at once, which keeps the core's pacing of retained messages by
  // backlog() as it was. Bytes behind a backlog go straight to the queue.
  static constexpr std::size_t kGatherLimit = 16 * 1024;

  void send(ConnectionId id, std::vector<std::uint8_t> bytes) override {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    auto& c = *it->second;
    if (c.dead || c.stage != Conn::Stage::open) return;
    if (c.writer_running || !c.queue.empty()) {
      enqueue(it->second, std::move(bytes));
      return;
    }
    if (c.out.empty()) {
      c.out = std::move(bytes);
    } else {
      c.out.insert(c.out.end(), bytes.begin(), bytes.end());
    }
    if (c.out.size() >= kGatherLimit) {
      write_out(it->second);
      return;
    }
    if (!c.out_listed) {
      c.out_listed = true;
      gathered.push_back(it->second);
    }
    if (!flush_posted) {
      flush_posted = true;
      asio::post(io, [this] { flush_gathered(); });
    }
  }

  // Every connection's gathered bytes are written (the end of a turn, or before a read that may find nothing).
  void flush_gathered() {
    flush_posted = false;
    auto list = std::exchange(gathered, {});
    for (const auto& c : list) {
      c->out_listed = false;
      write_out(c);
    }
  }

  // Writes the connection's gathered bytes now; what the socket does not take waits in the queue.
  void write_out(const std::shared_ptr<Conn>& cp) {
    auto& c = *cp;
    std::vector<std::uint8_t> bytes = std::exchange(c.out, {});
    if (bytes.empty() || c.dead || c.stage != Conn::Stage::open) return;
    std::error_code ec;
    std::size_t done = 0;
    while (done < bytes.size()) {
      auto step = c.link.write_some(std::span<const std::uint8_t>(bytes).subspan(done), ec);
      if (ec || step.want != Want::nothing) break;
      done += step.bytes;
    }
    if (ec) {
      c.dead = true;  // the reader sees the closed socket and tells the core
      c.dead_reason = fmt::format("write failed: {}", ec.message());
      c.close_socket();
      return;
    }
    c.bytes_out += done;
    if (done == bytes.size()) return;
    // A TLS write that wants to wait must be repeated with the same bytes: the remainder starts with them.
    bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(done));
    enqueue(cp, std::move(bytes));
  }

  // Behind a backlog: the writer sends the queue's front while later bytes gather in entries of about one
  // record behind it, so that a slow reader gets full records too; a written entry is freed at once.
  void enqueue(const std::shared_ptr<Conn>& cp, std::vector<std::uint8_t> bytes) {
    auto& c = *cp;
    if (c.queued + bytes.size() > options.write_queue_limit) {
      log(fmt::format("connection {} from {}: dropped, more than {} bytes waiting to be sent (the client reads too "
                      "slowly)",
                      c.id, c.peer, options.write_queue_limit));
      // The reader sees the closed socket and tells the core (not from inside this callback).
      c.dead = true;
      c.dead_reason = "write queue over its limit";
      c.close_socket();
      return;
    }
    c.queued += bytes.size();
    if (c.queue.size() > 1 && c.queue.back().size() < kGatherLimit) {
      c.queue.back().insert(c.queue.back().end(), bytes.begin(), bytes.end());
    } else {
      c.queue.push_back(std::move(bytes));
    }
    start_writer(cp);
  }

  void close(ConnectionId id, std::string_view reason) override {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    auto& c = *it->second;
    c.stage = Conn::Stage::closing;
    if (!c.out.empty()) {  // gathered this turn: the writer sends it before the FIN
      c.queued += c.out.size();
      c.queue.push_back(std::exchange(c.out, {}));
    }
    // The core has logged why; repeat it only when asked for detail.
    if (options.verbose) log(fmt::format("connection {} from {} closed by broker: {}", c.id, c.peer, reason));
    start_writer(it->second);  // flushes what is queued, then FIN and linger
  }

  void start_writer(const std::shared_ptr<Conn>& c) {
    if (c->writer_running || c->dead) return;
    c->writer_running = true;
    asio::co_spawn(io, writer(c), asio::detached);
  }

  std::vector<SslContextPtr> build_contexts() const {
    std::vector<SslContextPtr> out;
    for (const auto& l : listeners) out.push_back(l->cfg.tls() ? wrap(detail::make_server_ctx(l->cfg)) : nullptr);
    return out;
  }

  void swap_contexts(std::vector<SslContextPtr> fresh) {
    for (std::size_t i = 0; i < listeners.size(); ++i)
      if (fresh[i]) listeners[i]->ctx = std::move(fresh[i]);
    ++reloads;
  }

  void reload_on_loop() {
    try {
      swap_contexts(build_contexts());
      log("reloaded certfile, keyfile, cafile and crlfile; new connections use them, connected clients stay");
    } catch (const Error& e) {
      log(fmt::format("reload failed, keeping the previous TLS material: {}", e.what()));
    }
    try {
      swap_auth(load_listener_auth(options.config));
    } catch (const Error& e) {
      log(fmt::format("reload failed, keeping the previous password_file and acl_file: {}", e.what()));
    }
  }

  // New connections check the new password_file; every client gets the new acl_file at once, as in Mosquitto.
  void swap_auth(std::vector<ListenerAuth> fresh) {
    for (std::size_t i = 0; i < listeners.size(); ++i) listeners[i]->auth = std::move(fresh[i]);
    for (const auto& [id, c] : conns)
      if (c->stage == Conn::Stage::open && c->listener) core.set_acl(id, c->listener->auth.acl);
    if (!options.config.auth.empty() || options.config.per_listener_settings)
      log("reloaded password_file and acl_file");
  }

  // Runs while the connection has a backlog; ends when it is flushed (send() starts it again), or after
  // the linger when the core asked to close.
  awaitable<void> writer(std::shared_ptr<Conn> c) {
    std::error_code ec;
    do {
      while (!c->dead && !c->queue.empty()) {
        const auto& front = c->queue.front();  // list::push_back keeps references valid
        co_await c->write_all(front, ec);
        if (ec) {
          c->dead = true;
          c->dead_reason = fmt::format("write failed: {}", ec.message());
          c->close_socket();  // the reader sees it and tells the core
          break;
        }
        c->queue.pop_front();
      }
    } while (drained_more(*c));
    if (c->stage == Conn::Stage::closing && !c->dead) {
      // FIN after the flushed data; closing outright while unread input is pending would send a RST
      // that can destroy the data (e.g. a refusing CONNACK) before the peer reads it.
      c->link.shutdown_send();
      asio::steady_timer linger(io, kLinger);  // runs out even if the peer closes first (it only holds the Conn)
      co_await linger.async_wait(asio::redirect_error(use_awaitable, ec));
      c->dead = true;
      c->close_socket();
    }
    c->writer_running = false;
  }

  // The backlog is flushed: the core sends what it paces by it (a SUBSCRIBE's retained messages). True when
  // that queued more bytes for the writer.
  bool drained_more(Conn& c) {
    if (c.dead || c.stage != Conn::Stage::open) return false;
    try {
      core.on_writable(c.id, mqtt::Clock::now());
    } catch (const std::exception& e) {  // never lose a connection silently
      c.dead = true;
      c.dead_reason = fmt::format("internal error: {}", e.what());
      c.close_socket();
      return false;
    }
    return !c.queue.empty();
  }

  awaitable<bool> handshake(std::shared_ptr<Conn> c, Listener& l) {
    c->link.start_tls_server(*l.ctx);  // the SSL object holds a reference to the context (reloads swap l.ctx)
    // Lives in this frame: the verify callback only runs during the handshake (no renegotiation).
    detail::VerifyReport report;
    report.peer_role = "client certificate";
    report.cafile = l.cfg.cafile;
    report.crlfile = l.cfg.crlfile;
    detail::attach_report(*c->link.ssl(), report);
    asio::steady_timer deadline(io, options.handshake_timeout);
    bool timed_out = false;
    deadline.async_wait([c, &timed_out](std::error_code e) {
      if (!e && c->stage == Conn::Stage::accepted) {
        timed_out = true;  // only touched while the coroutine is suspended in the handshake
        c->dead = true;
        c->close_socket();
      }
    });
    std::error_code ec;
    for (;;) {
      auto step = c->link.handshake(ec);
      if (ec || step.want == Want::nothing) break;
      co_await c->link.wait(step.want, ec);
      if (ec) break;
    }
    c->stage = ec ? Conn::Stage::refused : Conn::Stage::admitted;
    deadline.cancel();
    detail::detach_report(*c->link.ssl());
    if (!ec) co_return true;
    ++refused;
    std::string why = !c->dead_reason.empty() ? c->dead_reason
                      : timed_out ? fmt::format("no TLS handshake within {} ms (silent or slow client)",
                                                options.handshake_timeout.count())
                                  : detail::describe_tls_failure(ec.message(), report, true);
    log(fmt::format("refused TLS handshake from {} on {}: {}", c->peer, l.name, why));
    co_return false;
  }

  // An accepted socket: the TLS handshake and on_open run in this coroutine. After that
  // the connection is read by callbacks (read_ready), so an idle connection holds no coroutine frame: only
  // its Conn, its SSL object and one pending wait on its socket.
  awaitable<void> serve(detail::Transport::Socket socket, Listener& l) {
    std::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    std::string peer = ec ? std::string("unknown peer") : endpoint_text(ep);
    std::shared_ptr<Conn> c;
    try {
      c = std::make_shared<Conn>(next_id++, std::move(socket));
    } catch (const std::exception& e) {
      log(fmt::format("refused connection from {} on {}: {}", peer, l.name, e.what()));
      co_return;
    }
    c->peer = std::move(peer);
    if (!ec) c->source = ep.address().to_string();
    c->listener = &l;
    ++l.open;
    conns[c->id] = c;
    open_count = conns.size();
    std::optional<std::string> not_opened;
    try {
      admit_pending(*c);
      not_opened = co_await open(c, l);
      // An alert was sent unless the socket was closed (deadline, eviction) meanwhile.
      if (not_opened && c->stage == Conn::Stage::refused && !c->dead) co_await linger_refused(c);
    } catch (const std::exception& e) {  // never lose a connection silently
      not_opened = fmt::format("internal error: {}", e.what());
    }
    if (not_opened) {
      finish(c, *not_opened);
      co_return;
    }
    read_ready(c);
  }

  // After a refused TLS handshake OpenSSL has written its alert (e.g. "certificate revoked"). Closing at once,
  // with the client's unread bytes in our receive buffer (the rest of its flight, or a CONNECT sent right after
  // its side of a TLS 1.3 handshake), would send a RST that can destroy the alert before the client reads it.
  // So: FIN, then discard what arrives until the client closes or the linger ends.
  awaitable<void> linger_refused(std::shared_ptr<Conn> c) {
    c->link.shutdown_send();
    asio::steady_timer limit(io, kLinger);
    limit.async_wait([c](std::error_code e) {
      if (!e) c->close_socket();
    });
    std::error_code ec;
    while (!ec) {
      auto step = c->link.discard_input(ec);
      if (!ec && step.want != Want::nothing) co_await c->link.wait(step.want, ec);
    }
    limit.cancel();
  }

  // A new connection: when its source address already has max_handshakes_per_address connections that have
  // not sent an MQTT byte (in their TLS handshake or before CONNECT), the oldest of those is closed, so that
  // sockets that never speak cannot lock out the clients that do.
  void admit_pending(Conn& c) {
    if (pending_from[c.source] >= options.config.max_handshakes_per_address) evict_oldest_pending(c.source);
    c.pending_at = pending.insert(pending.end(), c.id);
    c.pending = true;
    ++pending_from[c.source];
  }

  void evict_oldest_pending(const std::string& source) {
    for (const ConnectionId id : pending) {
      auto it = conns.find(id);
      if (it == conns.end() || it->second->source != source) continue;
      Conn& old = *it->second;
      // Logged by the handshake or the reader as they end, with this reason.
      old.dead_reason = fmt::format("closed for a newer connection: the oldest of {} from {} that have not sent an "
                                    "MQTT packet yet (max_handshakes_per_address)",
                                    options.config.max_handshakes_per_address, source);
      leave_pending(old);
      old.dead = true;
      old.close_socket();  // its handshake or read waiter ends with operation_aborted and finishes it
      return;
    }
  }

  void leave_pending(Conn& c) {
    if (!c.pending) return;
    c.pending = false;
    pending.erase(c.pending_at);
    auto it = pending_from.find(c.source);
    if (it != pending_from.end() && --it->second == 0) pending_from.erase(it);
  }

  // Why a new connection on `l` is refused (a connection limit), or nullopt.
  std::optional<std::string> over_limit(const Listener& l) const {
    if (conns.size() >= options.config.max_connections)
      return fmt::format("{} connections open (raise max_connections)", conns.size());
    if (l.cfg.max_connections && l.open >= *l.cfg.max_connections)
      return fmt::format("{} connections open on this listener (raise the max_connections of its listener block)",
                         l.open);
    return std::nullopt;
  }

  // TLS handshake (on a TLS listener), then the core is told; returns why the connection ends instead.
  awaitable<std::optional<std::string>> open(std::shared_ptr<Conn> c, Listener& l) {
    mqtt::ConnectionInfo info;
    info.peer = c->peer;
    info.listener = l.name;
    std::string tls_text = "plain TCP";
    if (l.cfg.tls()) {
      if (!co_await handshake(c, l)) co_return std::string("TLS handshake refused");
      SSL& ssl = *c->link.ssl();
      tls_text = detail::tls_summary(ssl);
      std::string cn = detail::peer_common_name(ssl);
      bool verified = l.cfg.require_certificate && SSL_get0_peer_certificate(&ssl) != nullptr &&
                      SSL_get_verify_result(&ssl) == X509_V_OK;
      if (verified) {
        info.certificate_cn = cn;
        info.certificate_authenticated = true;
        if (l.cfg.use_identity_as_username) info.identity_username = cn;
      }
    }
    if (stopping) co_return std::string("broker stopping");
    info.anonymous_allowed = options.config.anonymous_allowed(l.cfg);
    info.username_as_client_id = options.config.use_username_as_clientid;
    info.zero_length_client_id_allowed = options.config.allow_zero_length_clientid;
    info.passwords = l.auth.passwords;
    info.acl = l.auth.acl;
    log(fmt::format("connection {} from {} on {}: CN={} {}", c->id, c->peer, l.name,
                    info.certificate_cn ? mqttpki::printable(*info.certificate_cn) : std::string("-"), tls_text));
    c->stage = Conn::Stage::open;
    core.on_open(c->id, std::move(info), mqtt::Clock::now());
    co_return std::nullopt;
  }

  // Gives the core what the connection has to read, then waits for more with a callback, or ends it.
  void read_ready(const std::shared_ptr<Conn>& c) {
    constexpr int kBurst = 16;  // reads in a row before other connections get a turn
    std::error_code ec;
    try {
      for (int n = 0; !c->dead; ++n) {
        if (n == kBurst) {
          asio::post(io, [this, c] { read_ready(c); });
          return;
        }
        // What the turn gathered goes out before a read asks the socket for more (and may find nothing), so a
        // message's latency does not include that system call; records OpenSSL already holds are read first.
        if (flush_posted && !c->link.buffered()) flush_gathered();
        // read_buf is shared by all connections: a read step fills it and on_bytes consumes it before
        // anything else runs on this thread (neither suspends).
        auto step = c->link.read_some(read_buf, ec);
        if (ec) break;
        if (step.want != Want::nothing) {
          c->link.on_ready(step.want, [this, c](std::error_code e) {
            if (e) {
              finish(c, end_reason(*c, e));
            } else {
              read_ready(c);
            }
          });
          return;
        }
        c->bytes_in += step.bytes;
        if (c->pending && step.bytes != 0) leave_pending(*c);
        if (c->stage != Conn::Stage::open) continue;  // draining after the core closed it, until the peer closes
        core.on_bytes(c->id, std::span<const std::uint8_t>(read_buf.data(), step.bytes), mqtt::Clock::now());
      }
    } catch (const std::exception& e) {  // never lose a connection silently
      finish(c, fmt::format("internal error: {}", e.what()));
      return;
    }
    finish(c, end_reason(*c, ec));
  }

  static std::string end_reason(const Conn& c, std::error_code ec) {
    if (!c.dead_reason.empty()) return c.dead_reason;
    if (!ec || ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return "closed by the client";
    return ec.message();
  }

  // The connection is over: the core is told (once), the socket closed, the entry removed.
  void finish(std::shared_ptr<Conn> c, const std::string& reason) {
    if (c->stage == Conn::Stage::finished) return;
    const bool was_open = c->stage == Conn::Stage::open || c->stage == Conn::Stage::closing;
    if (c->stage == Conn::Stage::open) {
      log(fmt::format("connection {} from {} ended: {}", c->id, c->peer, reason));
      core.on_close(c->id, mqtt::Clock::now());
    }
    c->stage = Conn::Stage::finished;
    if (was_open && options.verbose)
      log(fmt::format("connection {}: {} bytes in, {} bytes out", c->id, c->bytes_in, c->bytes_out));
    c->dead = true;
    c->close_socket();
    leave_pending(*c);
    if (c->listener != nullptr) --c->listener->open;
    conns.erase(c->id);
    open_count = conns.size();
  }

  awaitable<void> accept_loop(Listener& l) {
    asio::steady_timer backoff(io);
    while (!stopping) {
      std::error_code ec;
      detail::Transport::Socket s = co_await l.acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
      if (stopping || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        // e.g. out of file descriptors: report and back off instead of spinning
        log(fmt::format("accept on {} failed: {}", l.name, ec.message()));
        backoff.expires_after(std::chrono::milliseconds(100));
        co_await backoff.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      ++accepted;
      if (auto why = over_limit(l)) {
        std::error_code ignored;
        auto ep = s.remote_endpoint(ignored);
        log(fmt::format("refused connection from {} on {}: {}", ignored ? std::string("unknown peer") : endpoint_text(ep),
                        l.name, *why));
        s.close(ignored);
        continue;
      }
      asio::co_spawn(io, serve(std::move(s), l), asio::detached);
    }
  }

  awaitable<void> ticker() {
    std::error_code ec;
    while (!stopping) {
      tick_timer.expires_after(std::chrono::seconds(1));
      co_await tick_timer.async_wait(asio::redirect_error(use_awaitable, ec));
      if (stopping) co_return;
      core.on_tick(mqtt::Clock::now());
    }
  }

  awaitable<void> signal_loop() {
    while (!stopping) {
      std::error_code ec;
      int sig = co_await signals.async_wait(asio::redirect_error(use_awaitable, ec));
      if (ec || stopping) co_return;
      if (sig == SIGHUP) {
        log("SIGHUP: reloading TLS material, password_file and acl_file");
        reload_on_loop();
      } else {
        log(fmt::format("{}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM"));
        do_stop();
      }
    }
  }

  void do_stop() {
    if (stopping) return;
    stopping = true;
    std::error_code ec;
    for (auto& l : listeners) l->acceptor.close(ec);
    for (auto& [id, c] : conns) {
      c->dead = true;
      c->close_socket();
      }
    tick_timer.cancel();
    signals.cancel();
    io.stop();
  }
};

Broker::Broker(BrokerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Broker::~Broker() {
  stop();
  // Destroying a broker whose run() is still active on another thread would pull the loop from under
  // it: wait (bounded) for run() to return. Callers normally stop() and join first.
  std::unique_lock lock(impl_->run_mu);
  impl_->run_cv.wait_for(lock, std::chrono::seconds(10), [this] { return !impl_->running.load(); });
}

std::vector<BoundListener> Broker::start() {
  auto& im = *impl_;
  if (im.started) throw Error(Errc::invalid_argument, "broker already started");
  validate(im.options.config);
  auto auth = load_listener_auth(im.options.config);
  std::vector<BoundListener> bound;
  for (const auto& cfg : im.options.config.listeners) {
    SslContextPtr ctx = cfg.tls() ? wrap(detail::make_server_ctx(cfg)) : nullptr;
    std::string addr_text = cfg.bind_address() == "localhost" ? std::string("127.0.0.1") : cfg.bind_address();
    std::error_code ec;
    auto addr = asio::ip::make_address(addr_text, ec);
    if (ec)
      throw Error(Errc::invalid_argument,
                  fmt::format("{}: listener {} address '{}' is not an IP address; use e.g. 127.0.0.1",
                              im.options.config.source, cfg.port, cfg.address));
    tcp::endpoint ep(addr, cfg.port);
    auto l = std::make_unique<Listener>(Listener{cfg, detail::Transport::Acceptor(im.io), std::move(ctx), "",
                                                 std::move(auth[im.listeners.size()])});
    auto fail = [&](std::string_view step) {
      throw Error(Errc::network, fmt::format("cannot {} {}:{}: {}; pick another port or stop what uses it", step,
                                             addr_text, cfg.port, ec.message()));
    };
    l->acceptor.open(ep.protocol(), ec); if (ec) fail("open a socket for");
    l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec); if (ec) fail("configure");
    l->acceptor.bind(ep, ec); if (ec) fail("listen on");
    l->acceptor.listen(asio::socket_base::max_listen_connections, ec); if (ec) fail("listen on");
    auto local = l->acceptor.local_endpoint(ec);
    if (ec) fail("read the bound port of");
    l->cfg.port = local.port();
    l->name = l->cfg.name();
    bound.push_back(BoundListener{addr_text, local.port(), cfg.tls()});
    bool loopback = addr.is_loopback();
    bool anon = im.options.config.anonymous_allowed(l->cfg);
    if (anon && !loopback)
      im.log(fmt::format("warning: {} on {} accepts anonymous clients from the network (allow_anonymous true)",
                         l->name, addr_text));
    if (!l->cfg.tls() && !loopback && !anon)
      im.log(fmt::format("note: plain listener {} on {} refuses anonymous clients; set 'allow_anonymous true' to "
                         "allow them",
                         l->name, addr_text));
    im.listeners.push_back(std::move(l));
  }
  for (auto& l : im.listeners) asio::co_spawn(im.io, im.accept_loop(*l), asio::detached);
  asio::co_spawn(im.io, im.ticker(), asio::detached);
  if (im.options.handle_signals) {
    im.signals.add(SIGINT);
    im.signals.add(SIGTERM);
    im.signals.add(SIGHUP);
    asio::co_spawn(im.io, im.signal_loop(), asio::detached);
  }
  im.started = true;
  return bound;
}

void Broker::run() {
  auto& im = *impl_;
  if (!im.started) throw Error(Errc::invalid_argument, "Broker::run() before start()");
  im.running = true;
  im.io.run();
  {
    std::lock_guard lock(im.run_mu);
    im.running = false;
  }
  im.run_cv.notify_all();
}

void Broker::stop() {
  auto* im = impl_.get();
  if (im->running && !im->io.get_executor().running_in_this_thread()) {
    asio::post(im->io, [im] { im->do_stop(); });
  } else {
    im->do_stop();
  }
}

void Broker::reload() {
  auto& im = *impl_;
  auto fresh = im.build_contexts();  // pure OpenSSL: safe on the caller's thread; throws, keeping the old
  auto auth = load_listener_auth(im.options.config);
  if (im.running && !im.io.get_executor().running_in_this_thread()) {
    // Shared with the posted handler, which may outlive this call if the loop is stuck.
    auto done = std::make_shared<std::promise<void>>();
    auto f = done->get_future();
    asio::post(im.io, [&im, fresh = std::move(fresh), auth = std::move(auth), done]() mutable {
      im.swap_contexts(std::move(fresh));
      im.swap_auth(std::move(auth));
      done->set_value();
    });
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
      throw Error(Errc::network, "reload: the broker loop did not answer within 10 s");
  } else {
    im.swap_contexts(std::move(fresh));
    im.swap_auth(std::move(auth));
  }
  im.log("reloaded certfile, keyfile, cafile and crlfile; new connections use them, connected clients stay");
}

BrokerCounters Broker::counters() const {
  return BrokerCounters{impl_->open_count.load(), impl_->accepted.load(), impl_->refused.load(), impl_->reloads.load()};
}

}  // namespace mqttpki::net
