#include <mqttpki/mqtt/broker_core.hpp>
#include <mqttpki/mqtt/codec.hpp>
#include <mqttpki/mqtt/message.hpp>
#include <mqttpki/mqtt/retained.hpp>
#include <mqttpki/mqtt/subscriptions.hpp>
#include <mqttpki/mqtt/topic.hpp>
#include <mqttpki/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <list>
#include <functional>
#include <unordered_map>
#include <unordered_set>

namespace mqttpki::mqtt {
namespace {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

QoS min_qos(QoS a, QoS b) { return static_cast<unsigned>(a) < static_cast<unsigned>(b) ? a : b; }
unsigned qn(QoS q) { return static_cast<unsigned>(q); }

// Encodes a PUBLISH straight from a shared payload (no Publish value, no payload copy into one).
// Returns the offset of the packet identifier (0 for QoS 0).
std::size_t encode_publish(std::vector<std::uint8_t>& out, std::string_view topic,
                           const std::vector<std::uint8_t>& payload, QoS qos, std::uint16_t packet_id, bool dup,
                           bool retain) {
  const bool has_id = qos != QoS::at_most_once;
  const std::size_t remaining = 2 + topic.size() + (has_id ? 2 : 0) + payload.size();
  out.clear();
  out.reserve(5 + remaining);
  out.push_back(static_cast<std::uint8_t>(0x30u | (dup ? 0x08u : 0u) | (qn(qos) << 1) | (retain ? 1u : 0u)));
  encode_remaining_length(remaining, out);
  out.push_back(static_cast<std::uint8_t>(topic.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(topic.size() & 0xFFu));
  out.insert(out.end(), topic.begin(), topic.end());
  std::size_t id_offset = 0;
  if (has_id) {
    id_offset = out.size();
    out.push_back(static_cast<std::uint8_t>(packet_id >> 8));
    out.push_back(static_cast<std::uint8_t>(packet_id & 0xFFu));
  }
  out.insert(out.end(), payload.begin(), payload.end());
  return id_offset;
}

void patch_id(std::vector<std::uint8_t>& bytes, std::size_t offset, std::uint16_t id) {
  bytes[offset] = static_cast<std::uint8_t>(id >> 8);
  bytes[offset + 1] = static_cast<std::uint8_t>(id & 0xFFu);
}

bool has_control_characters(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

// An outgoing QoS 1/2 message sent and not yet fully acknowledged.
struct InFlight {
  std::uint16_t packet_id = 0;
  Message message;  // qos is the delivered QoS
  bool awaiting_pubcomp = false;  // QoS 2: PUBREC received, PUBREL sent
};

// A session's QoS 1/2 state. Allocated on first use and given back once empty, so that an idle session
// (most of them) costs a pointer instead of ~150 bytes of empty containers.
struct Flow {
  // Lists, not deques: an empty std::deque allocates ~600 bytes up front.
  std::list<InFlight> inflight;                    // in send order (the resend order)
  std::unordered_set<std::uint16_t> inflight_ids;  // the ids in `inflight`, for O(1) id allocation
  std::list<Message> queue;  // QoS 1/2 waiting for an in-flight slot or for the client to return
  std::unordered_set<std::uint16_t> incoming_qos2;  // QoS 2 ids received, awaiting PUBREL

  [[nodiscard]] bool empty() const noexcept { return inflight.empty() && queue.empty() && incoming_qos2.empty(); }
};

struct Session {
  std::string client_id;
  bool clean = true;
  bool queue_full_logged = false;
  std::uint16_t next_id = 1;
  std::optional<ConnectionId> connection;  // set while a client is connected
  std::unique_ptr<Flow> flow;              // null: nothing in flight, queued or awaiting PUBREL
  std::uint64_t dropped = 0;
  Clock::time_point left{};  // when its client disconnected (persistent_session_expiry)
  std::shared_ptr<const ClientAcl> acl;  // of its latest connection; null: everything allowed

  Flow& flows() {
    if (!flow) flow = std::make_unique<Flow>();
    return *flow;
  }
  [[nodiscard]] std::size_t inflight_count() const noexcept { return flow ? flow->inflight.size() : 0; }
  [[nodiscard]] std::size_t queued_count() const noexcept { return flow ? flow->queue.size() : 0; }
  void release_flow_if_empty() {
    if (flow && flow->empty()) flow.reset();
  }
};

// Kept small: one exists per open connection. What the core needs of ConnectionInfo is copied out of it.
struct Connection {
  ConnectionId id = 0;
  std::string peer;      // ConnectionInfo::peer
  std::string listener;  // ConnectionInfo::listener
  // Before CONNECT: ConnectionInfo::identity_username (it replaces the CONNECT user name).
  // After CONNECT: the session's user name, if any.
  std::optional<std::string> username;
  bool certificate_authenticated = false;
  bool anonymous_allowed = false;
  bool username_as_client_id = false;
  bool zero_length_client_id_allowed = true;
  bool mqtt31 = false;  // MQTT 3.1 ("MQIsdp") client
  bool connected = false;
  std::uint16_t keep_alive = 0;
  FrameReader reader;
  Clock::time_point opened;
  Clock::time_point last_packet;
  Session* session = nullptr;
  std::unique_ptr<Will> will;  // a pointer: most clients set none
  // Retained messages of a SUBSCRIBE not sent yet: they go out as the connection's write backlog drains
  // (pace_retained), so a burst larger than the net layer's write cap reaches a subscriber that reads.
  std::list<Message> pending_retained;
  std::shared_ptr<const PasswordCheck> passwords;  // ConnectionInfo::passwords
  std::shared_ptr<const Acl> acl_source;            // ConnectionInfo::acl (or a reload)
  std::shared_ptr<const ClientAcl> acl;             // compiled at CONNECT; null: everything allowed
};

enum class Action { publish, subscribe, read };

}  // namespace

struct BrokerCore::Impl {
  BrokerLimits limits;
  BrokerOutput& out;
  std::unordered_map<ConnectionId, std::unique_ptr<Connection>> connections;
  std::unordered_map<std::string, Session, StringHash, std::equal_to<>> sessions;  // nodes: stable addresses
  SubscriptionTable subscriptions;
  RetainedStore retained;
  std::size_t connected = 0;  // connections past CONNECT
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t auto_id = 0;
  std::vector<Subscriber> match_scratch;
  std::size_t pacing = 0;  // connections with pending retained messages
  Clock::time_point call_time{};  // of the current public call
  // on_close calls that arrive while the core is busy (an output callback that reports a failed
  // write synchronously) are handled once the outer call returns, so that no iteration is disturbed.
  int depth = 0;
  std::vector<ConnectionId> deferred_closes;

  Impl(BrokerLimits l, BrokerOutput& o) : limits(l), out(o) {}
  void flush_deferred();

  static std::string who(const Connection& c) {
    if (c.session) return fmt::format("client '{}' ({})", c.session->client_id, c.peer);
    return fmt::format("connection from {}", c.peer);
  }

  void send(ConnectionId id, const Packet& p) { out.send(id, encode(p)); }

  // Access control (acl.hpp). SUBSCRIBE is always granted, as Mosquitto 2.0 does: read access is checked for
  // each message at delivery (route() and retained messages), with the session's ACL.
  static bool authorize(const Connection& c, Action action, std::string_view topic) {
    if (!c.acl || action == Action::subscribe) return true;
    return c.acl->allows(topic, action == Action::publish ? acl_write : acl_read);
  }
  static bool may_read(const Session& s, std::string_view topic) { return !s.acl || s.acl->allows(topic, acl_read); }

  // Mosquitto 2.0's order: a certificate identity (use_identity_as_username) needs nothing more; a user name is
  // checked against the listener's password_file when it has one (CONNACK 4 for a wrong password and for an
  // unknown user alike); otherwise a verified certificate or allow_anonymous admits the client.
  bool authenticate(Connection& c, const Connect& connect) {
    if (c.username) return true;
    if (c.passwords && connect.username) {
      if (c.passwords->verify(*connect.username, connect.password)) return true;
      out.log(fmt::format("connection from {} on {} (client '{}', user '{}') refused: bad user name or password",
                          c.peer, c.listener, printable(connect.client_id), printable(*connect.username)));
      refuse(c, ConnectReturnCode::bad_username_or_password, "bad user name or password");
      return false;
    }
    if (c.certificate_authenticated || c.anonymous_allowed) return true;
    out.log(fmt::format("connection from {} on {} (client '{}') refused: not authorised, no verified client "
                        "certificate{}; set allow_anonymous true on this listener or give the client a {}",
                        c.peer, c.listener, printable(connect.client_id), c.passwords ? " or user name" : "",
                        c.passwords ? "certificate or a user name and password" : "certificate"));
    refuse(c, ConnectReturnCode::not_authorized, "not authorised");
    return false;
  }

  void compile_acl(Connection& c) {
    c.acl = c.acl_source ? std::make_shared<const ClientAcl>(c.acl_source, c.username, c.session->client_id)
                         : nullptr;
    c.session->acl = c.acl;
    if (c.acl && c.acl->refuses_all())
      out.log(fmt::format("{} (user '{}'): its user name or client id contains '+' or '#', so the ACL refuses it "
                          "every topic",
                          who(c), printable(c.username.value_or(""))));
  }

  // -------------------------------------------------------------------------------------------
  // Connection lifecycle

  // Forgets the connection; publishes its will when the end was abnormal. `notify` tells the net
  // layer to close (false when the net layer reported the close itself).
  void end_connection(ConnectionId id, std::string_view reason, bool abnormal, bool notify) {
    auto it = connections.find(id);
    if (it == connections.end()) return;
    std::unique_ptr<Connection> conn = std::move(it->second);
    connections.erase(it);
    if (!conn->pending_retained.empty()) --pacing;
    std::unique_ptr<Will> will;
    if (conn->connected) {
      --connected;
      if (abnormal) will = std::move(conn->will);
      Session* s = conn->session;
      out.log(fmt::format("{} disconnected: {}", who(*conn), reason));
      s->connection.reset();
      s->left = call_time;
      if (s->clean) destroy_session(s->client_id);
      conn->session = nullptr;
    } else if (notify) {
      out.log(fmt::format("{} closed: {}", who(*conn), reason));
    }
    if (will) {
      Message m{std::move(will->topic), make_payload(std::move(will->payload)), will->qos, will->retain};
      if (authorize(*conn, Action::publish, m.topic)) route(std::move(m));
    }
    if (notify) out.close(id, reason);
  }

  void destroy_session(const std::string& client_id) {
    auto it = sessions.find(client_id);
    if (it == sessions.end()) return;
    subscriptions.remove_client(client_id);
    sessions.erase(it);
  }

  void refuse(Connection& c, ConnectReturnCode code, std::string_view reason) {
    send(c.id, ConnAck{false, code});
    end_connection(c.id, reason, false, true);
  }

  void on_bytes(ConnectionId id, std::span<const std::uint8_t> bytes, Clock::time_point now) {
    auto it = connections.find(id);
    if (it == connections.end()) return;
    Connection* c = it->second.get();
    c->reader.feed(bytes);
    while (true) {
      auto next = c->reader.next();
      if (!next) {
        const auto e = next.error();
        if (!c->connected && e == errc::unsupported_protocol_level) {
          refuse(*c, ConnectReturnCode::unacceptable_protocol_version, "unsupported protocol level");
        } else {
          end_connection(id, fmt::format("malformed packet: {}", e.message()), true, true);
        }
        return;
      }
      if (!next.value()) return;
      c->last_packet = now;
      dispatch(*c, std::move(*next.value()), now);
      // The packet may have ended this connection.
      auto again = connections.find(id);
      if (again == connections.end() || again->second.get() != c) return;
    }
  }

  void dispatch(Connection& c, Packet packet, Clock::time_point now) {
    if (!c.connected) {
      if (auto* connect = std::get_if<Connect>(&packet)) {
        handle_connect(c, std::move(*connect), now);
      } else {
        end_connection(c.id, fmt::format("first packet was {}, not CONNECT", to_string(packet_type(packet))), true,
                       true);
      }
      return;
    }
    std::visit(
        [&](auto& p) {
          using T = std::decay_t<decltype(p)>;
          if constexpr (std::is_same_v<T, Publish>) {
            handle_publish(c, std::move(p));
          } else if constexpr (std::is_same_v<T, PubAck>) {
            handle_ack(c, p.packet_id, PacketType::puback);
          } else if constexpr (std::is_same_v<T, PubRec>) {
            handle_pubrec(c, p.packet_id);
          } else if constexpr (std::is_same_v<T, PubRel>) {
            if (c.session->flow) {
              c.session->flow->incoming_qos2.erase(p.packet_id);
              c.session->release_flow_if_empty();
            }
            send(c.id, PubComp{p.packet_id});
          } else if constexpr (std::is_same_v<T, PubComp>) {
            handle_ack(c, p.packet_id, PacketType::pubcomp);
          } else if constexpr (std::is_same_v<T, Subscribe>) {
            handle_subscribe(c, p);
          } else if constexpr (std::is_same_v<T, Unsubscribe>) {
            for (const auto& f : p.filters) subscriptions.unsubscribe(c.session->client_id, f);
            drop_unsubscribed_retained(c);
            send(c.id, UnsubAck{p.packet_id});
          } else if constexpr (std::is_same_v<T, PingReq>) {
            send(c.id, PingResp{});
          } else if constexpr (std::is_same_v<T, Disconnect>) {
            c.will.reset();  // [MQTT-3.14.4-3]: discard the will
            end_connection(c.id, "client sent DISCONNECT", false, true);
          } else if constexpr (std::is_same_v<T, Connect>) {
            end_connection(c.id, "second CONNECT (protocol violation)", true, true);
          } else {
            end_connection(c.id, fmt::format("unexpected {} from a client", to_string(packet_type(Packet{p}))), true,
                           true);
          }
        },
        packet);
  }

  // Why a client id is refused with CONNACK 2, or nullptr.
  static const char* client_id_problem(const Connect& connect, bool zero_length_allowed, bool chosen) {
    if (chosen && connect.is_mqtt31() && (connect.client_id.empty() || connect.client_id.size() > 23))
      return "MQTT 3.1 client id must be 1 to 23 bytes";
    if (connect.client_id.empty() && !zero_length_allowed)
      return "empty client id (allow_zero_length_clientid is false)";
    if (connect.client_id.empty() && !connect.clean_session) return "empty client id requires clean_session=1";
    if (has_control_characters(connect.client_id)) return "client id contains control characters";
    return nullptr;
  }

  // The session's name: the client's id (checked), an assigned one for an empty id, or the user name
  // (use_username_as_clientid: an identity cannot take over another's session). False: refused.
  bool settle_client_id(Connection& c, Connect& connect) {
    c.mqtt31 = connect.is_mqtt31();
    if (c.username_as_client_id) {
      const std::optional<std::string>& user = c.username ? c.username : connect.username;
      if (!user || user->empty()) {
        out.log(fmt::format("connection from {} on {} refused: not authorised, use_username_as_clientid is set and "
                            "the client has no user name",
                            c.peer, c.listener));
        refuse(c, ConnectReturnCode::not_authorized, "no user name to use as client id");
        return false;
      }
      connect.client_id = *user;
    }
    // MQTT 3.1's length rule is for ids the client chose.
    if (const char* why = client_id_problem(connect, c.zero_length_client_id_allowed, !c.username_as_client_id)) {
      out.log(fmt::format("connection from {} on {} (client '{}') refused: identifier rejected, {}", c.peer,
                          c.listener, printable(connect.client_id), why));
      refuse(c, ConnectReturnCode::identifier_rejected, why);
      return false;
    }
    if (connect.client_id.empty()) {
      do {
        connect.client_id = fmt::format("auto-{:016x}", ++auto_id);
      } while (sessions.contains(connect.client_id));
    }
    return true;
  }

  void handle_connect(Connection& c, Connect connect, Clock::time_point now) {
    // Authentication first, so that use_username_as_clientid names the session by a checked user name.
    if (!authenticate(c, connect)) return;
    if (!settle_client_id(c, connect)) return;
    auto sit = sessions.find(connect.client_id);
    const bool takeover = sit != sessions.end() && sit->second.connection.has_value();
    if (!takeover && connected >= limits.max_connections) {
      out.log(fmt::format("connection from {} (client '{}') refused: server unavailable, max_connections={} reached",
                          c.peer, connect.client_id, limits.max_connections));
      refuse(c, ConnectReturnCode::server_unavailable, "connection limit reached");
      return;
    }
    if (takeover) {
      const ConnectionId old = *sit->second.connection;
      out.log(fmt::format("client '{}': session taken over by a new connection from {}", connect.client_id,
                          c.peer));
      end_connection(old, "session taken over by a new connection", true, true);
    }
    // Session: a clean start discards any previous state.
    sit = sessions.find(connect.client_id);
    bool present = false;
    if (sit != sessions.end() && connect.clean_session) {
      destroy_session(connect.client_id);
      sit = sessions.end();
    }
    Session* s = nullptr;
    if (sit != sessions.end()) {
      s = &sit->second;
      present = true;
    } else {
      s = &sessions.try_emplace(connect.client_id).first->second;
      s->client_id = connect.client_id;
    }
    s->clean = connect.clean_session;
    s->connection = c.id;
    c.session = s;
    c.connected = true;
    ++connected;
    c.keep_alive = connect.keep_alive;
    c.last_packet = now;
    if (connect.will) c.will = std::make_unique<Will>(std::move(*connect.will));
    if (!c.username) c.username = std::move(connect.username);  // else: the certificate identity stays
    compile_acl(c);
    send(c.id, ConnAck{present && !c.mqtt31, ConnectReturnCode::accepted});  // MQTT 3.1: a reserved byte
    out.log(fmt::format("client '{}' connected from {} on {} (user '{}', clean_session={}, keep_alive={}{})",
                        s->client_id, c.peer, c.listener, printable(c.username.value_or("")),
                        connect.clean_session ? 1 : 0, c.keep_alive, present ? ", session resumed" : ""));
    resume(*s);
  }

  // -------------------------------------------------------------------------------------------
  // Incoming PUBLISH and routing

  void handle_publish(Connection& c, Publish p) {
    ++messages_in;
    const QoS qos = p.qos;
    const std::uint16_t id = p.packet_id;
    bool fresh = true;
    if (qos == QoS::exactly_once) fresh = c.session->flows().incoming_qos2.insert(id).second;  // exactly once
    if (fresh && limits.max_payload_size != 0 && p.payload.size() > limits.max_payload_size) {
      // As Mosquitto: acknowledged (the QoS flow completes) but neither delivered nor retained.
      out.log(fmt::format("{}: publish to '{}' dropped, payload of {} bytes over message_size_limit={}", who(c),
                          printable(p.topic), p.payload.size(), limits.max_payload_size));
      fresh = false;
    }
    if (fresh) {
      if (authorize(c, Action::publish, p.topic)) {
        route(Message{std::move(p.topic), make_payload(std::move(p.payload)), qos, p.retain});
      } else {
        out.log(fmt::format("{}: publish to '{}' not authorised, dropped", who(c), printable(p.topic)));
      }
    }
    if (qos == QoS::at_least_once) send(c.id, PubAck{id});
    if (qos == QoS::exactly_once) send(c.id, PubRec{id});
  }

  void route(Message m) {
    if (m.retain) retained.set(m);
    std::vector<Subscriber> subs;
    subs.swap(match_scratch);
    subscriptions.match(m.topic, subs);
    // Encode once per delivered QoS; QoS 1/2 copies get their packet id patched in.
    std::array<std::vector<std::uint8_t>, 3> encoded;
    std::array<std::size_t, 3> id_offset{};
    for (const auto& sub : subs) {
      auto sit = sessions.find(sub.client_id);
      if (sit == sessions.end()) continue;
      Session& s = sit->second;
      if (!may_read(s, m.topic)) continue;
      const QoS q = min_qos(m.qos, sub.qos);  // downgrade to the subscription's QoS
      if (q == QoS::at_most_once && !s.connection) continue;  // QoS 0 is not queued for offline clients
      if (pacing != 0 && s.connection) supersede_retained(*s.connection, m.topic);
      auto& bytes = encoded[qn(q)];
      if (bytes.empty()) id_offset[qn(q)] = encode_publish(bytes, m.topic, *m.payload, q, 0, false, false);
      if (q == QoS::at_most_once) {  // hot path: the same bytes for every QoS 0 subscriber
        ++messages_out;
        out.send(*s.connection, bytes);
        continue;
      }
      deliver(s, Message{m.topic, m.payload, q, false}, &bytes, id_offset[qn(q)]);
    }
    subs.clear();
    match_scratch.swap(subs);
  }

  // Sends now or queues. `encoded` (optional) is the PUBLISH already encoded with packet id 0.
  void deliver(Session& s, Message m, const std::vector<std::uint8_t>* encoded, std::size_t id_offset) {
    if (m.qos == QoS::at_most_once) {
      // QoS 0 is not queued for offline clients (as Mosquitto by default).
      if (!s.connection) return;
      ++messages_out;
      if (encoded) {
        out.send(*s.connection, *encoded);
      } else {
        std::vector<std::uint8_t> bytes;
        encode_publish(bytes, m.topic, *m.payload, m.qos, 0, false, m.retain);
        out.send(*s.connection, std::move(bytes));
      }
      return;
    }
    if (limits.max_queued_messages != 0 && s.queued_count() >= limits.max_queued_messages) {
      ++s.dropped;
      if (!s.queue_full_logged) {
        s.queue_full_logged = true;
        out.log(fmt::format("client '{}': queue full (max_queued_messages={}), refusing further QoS 1/2 messages "
                            "until it drains (first dropped on '{}')",
                            s.client_id, limits.max_queued_messages, printable(m.topic)));
      }
      return;
    }
    s.queue_full_logged = false;
    if (s.connection && !inflight_full(s) && s.queued_count() == 0) {
      send_new(s, std::move(m), encoded, id_offset);
    } else {
      s.flows().queue.push_back(std::move(m));
    }
  }

  // 0 means no limit, as in Mosquitto.
  // Never more than 65,535 in flight: there are no more packet ids.
  bool inflight_full(const Session& s) const {
    const std::size_t cap = limits.max_inflight == 0 ? 0xFFFF : limits.max_inflight;
    return s.inflight_count() >= cap;
  }

  static std::uint16_t next_packet_id(Session& s) {
    while (true) {
      const std::uint16_t id = s.next_id;
      s.next_id = static_cast<std::uint16_t>(s.next_id == 0xFFFF ? 1 : s.next_id + 1);
      if (!s.flow || !s.flow->inflight_ids.contains(id)) return id;
    }
  }

  void send_new(Session& s, Message m, const std::vector<std::uint8_t>* encoded, std::size_t id_offset) {
    const std::uint16_t id = next_packet_id(s);
    std::vector<std::uint8_t> bytes;
    if (encoded) {
      bytes = *encoded;
      patch_id(bytes, id_offset, id);
    } else {
      encode_publish(bytes, m.topic, *m.payload, m.qos, id, false, m.retain);
    }
    Flow& f = s.flows();
    f.inflight.push_back(InFlight{id, std::move(m), false});
    f.inflight_ids.insert(id);
    ++messages_out;
    out.send(*s.connection, std::move(bytes));
  }

  // Fills free in-flight slots from the queue.
  void pump(Session& s) {
    while (s.connection && s.queued_count() != 0 && !inflight_full(s)) {
      Message m = std::move(s.flow->queue.front());
      s.flow->queue.pop_front();
      if (!may_read(s, m.topic)) continue;  // queued before an acl_file reload took the right away
      send_new(s, std::move(m), nullptr, 0);
    }
  }

  // After CONNACK on a resumed session: resend unacknowledged messages with DUP, then the queue.
  void resume(Session& s) {
    if (!s.flow) return;
    for (const auto& f : s.flow->inflight) {
      if (f.awaiting_pubcomp) {
        send(*s.connection, PubRel{f.packet_id});
      } else {
        std::vector<std::uint8_t> bytes;
        encode_publish(bytes, f.message.topic, *f.message.payload, f.message.qos, f.packet_id, true,
                       f.message.retain);
        ++messages_out;
        out.send(*s.connection, std::move(bytes));
      }
    }
    pump(s);
  }

  // Why an acknowledgement does not fit the flow of the in-flight message it names; nullptr when it fits.
  static const char* ack_mismatch(const InFlight& f, PacketType ack) {
    if (f.message.qos == QoS::at_least_once) return ack == PacketType::puback ? nullptr : "it answers a QoS 1 PUBLISH";
    if (ack == PacketType::puback) return f.awaiting_pubcomp ? "PUBACK after PUBREL" : "PUBACK answers a QoS 2 PUBLISH";
    if (ack == PacketType::pubcomp && !f.awaiting_pubcomp) return "PUBCOMP before PUBREL";
    return nullptr;
  }

  // Finds the in-flight message an acknowledgement names. False when there is none (a duplicate or unknown
  // id: ignored) or when the acknowledgement contradicts its QoS flow, a protocol violation that closes the
  // connection (MQTT 3.1.1 section 4.8).
  bool find_acknowledged(Connection& c, std::uint16_t id, PacketType ack, std::list<InFlight>::iterator& it) {
    Session& s = *c.session;
    if (!s.flow) return false;
    auto& inflight = s.flow->inflight;
    it = std::find_if(inflight.begin(), inflight.end(), [&](const InFlight& f) { return f.packet_id == id; });
    if (it == inflight.end()) return false;
    if (const char* why = ack_mismatch(*it, ack)) {
      end_connection(c.id, fmt::format("protocol violation: {} for packet id {} ({})", to_string(ack), id, why), true,
                     true);
      return false;
    }
    return true;
  }

  // PUBACK (QoS 1) or PUBCOMP (QoS 2): the message is delivered.
  void handle_ack(Connection& c, std::uint16_t id, PacketType ack) {
    std::list<InFlight>::iterator it;
    if (!find_acknowledged(c, id, ack, it)) return;
    Session& s = *c.session;
    s.flow->inflight_ids.erase(id);
    s.flow->inflight.erase(it);
    pump(s);
    s.release_flow_if_empty();
  }

  void handle_pubrec(Connection& c, std::uint16_t id) {
    std::list<InFlight>::iterator it;
    if (!find_acknowledged(c, id, PacketType::pubrec, it)) return;
    it->awaiting_pubcomp = true;
    it->message.payload.reset();  // the payload is delivered; only the id is kept until PUBCOMP
    send(c.id, PubRel{id});
  }

  // -------------------------------------------------------------------------------------------
  // Subscriptions

  void handle_subscribe(Connection& c, const Subscribe& sub) {
    Session& s = *c.session;
    SubAck ack{sub.packet_id, {}};
    std::vector<const SubscribeTopic*> granted;
    for (const auto& t : sub.topics) {
      if (!authorize(c, Action::subscribe, t.filter)) {
        out.log(fmt::format("{}: subscription to '{}' not authorised", who(c), printable(t.filter)));
        ack.return_codes.push_back(suback_failure);
        continue;
      }
      if (!subscriptions.has(s.client_id, t.filter) &&
          subscriptions.count(s.client_id) >= limits.max_subscriptions_per_client) {
        out.log(fmt::format("{}: subscription to '{}' refused, max_subscriptions_per_client={} reached", who(c),
                            printable(t.filter), limits.max_subscriptions_per_client));
        ack.return_codes.push_back(suback_failure);
        continue;
      }
      subscriptions.subscribe(s.client_id, t.filter, t.qos);
      ack.return_codes.push_back(static_cast<std::uint8_t>(t.qos));
      granted.push_back(&t);
    }
    send(c.id, ack);
    // Retained messages for each new or replaced subscription, flagged retain.
    const bool was_pacing = !c.pending_retained.empty();
    for (const auto* t : granted) {
      for (const Message* m : retained.match(t->filter)) {
        if (!may_read(s, m->topic)) continue;
        c.pending_retained.push_back(Message{m->topic, m->payload, min_qos(m->qos, t->qos), true});
      }
    }
    if (!was_pacing && !c.pending_retained.empty()) ++pacing;
    pace_retained(c);
  }

  // Sends pending retained messages while the connection's write backlog stays under retained_window; the
  // rest waits for on_writable. Their payloads are the retained store's, shared, so waiting costs little.
  void pace_retained(Connection& c) {
    if (c.pending_retained.empty()) return;
    while (!c.pending_retained.empty() && out.backlog(c.id) < limits.retained_window) {
      Message m = std::move(c.pending_retained.front());
      c.pending_retained.pop_front();
      deliver(*c.session, std::move(m), nullptr, 0);
    }
    if (c.pending_retained.empty()) --pacing;
  }

  // After an UNSUBSCRIBE, pending retained messages that no remaining filter of the client matches are not
  // sent (the client no longer asked for them).
  void drop_unsubscribed_retained(Connection& c) {
    if (c.pending_retained.empty()) return;
    const auto filters = subscriptions.filters(c.session->client_id);
    c.pending_retained.remove_if([&](const Message& m) {
      return std::none_of(filters.begin(), filters.end(), [&](const auto& f) { return topic_matches(f.first, m.topic); });
    });
    if (c.pending_retained.empty()) --pacing;
  }

  // A live message on `topic` overtakes a pending retained one for the same topic, which is then stale:
  // it is dropped so that the subscriber never sees an older message after a newer one.
  void supersede_retained(ConnectionId id, std::string_view topic) {
    auto it = connections.find(id);
    if (it == connections.end() || it->second->pending_retained.empty()) return;
    auto& pending = it->second->pending_retained;
    pending.remove_if([&](const Message& m) { return m.topic == topic; });
    if (pending.empty()) --pacing;
  }

  void on_tick(Clock::time_point now) {
    std::vector<std::pair<ConnectionId, std::string>> expired;
    for (const auto& [id, c] : connections) {
      if (!c->connected) {
        if (now - c->opened >= limits.connect_timeout) {
          expired.emplace_back(id, fmt::format("no CONNECT within {}s", limits.connect_timeout.count()));
        }
      } else if (c->keep_alive > 0 &&
                 now - c->last_packet >= std::chrono::milliseconds(std::int64_t{c->keep_alive} * 1500)) {
        expired.emplace_back(id, fmt::format("keep-alive timeout (1.5 x {}s)", c->keep_alive));
      }
    }
    for (const auto& [id, reason] : expired) end_connection(id, reason, true, true);
    expire_sessions(now);
  }

  void expire_sessions(Clock::time_point now) {
    if (limits.persistent_session_expiry.count() == 0) return;
    std::vector<std::string> gone;
    for (const auto& [id, s] : sessions) {
      if (!s.connection && !s.clean && now - s.left >= limits.persistent_session_expiry) gone.push_back(id);
    }
    for (const auto& id : gone) {
      out.log(fmt::format("client '{}': persistent session expired after {}s away (persistent_client_expiration)",
                          id, limits.persistent_session_expiry.count()));
      destroy_session(id);
    }
  }
};

namespace {
// Marks the core busy for the duration of a public call; the outermost one flushes deferred closes.
class Busy {
 public:
  explicit Busy(int& depth) : depth_(depth) { ++depth_; }
  ~Busy() { --depth_; }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;

 private:
  int& depth_;
};
}  // namespace

void BrokerCore::Impl::flush_deferred() {
  while (depth == 0 && !deferred_closes.empty()) {
    const ConnectionId id = deferred_closes.front();
    deferred_closes.erase(deferred_closes.begin());
    Busy busy(depth);
    end_connection(id, "connection closed by peer or network", true, false);
  }
}

BrokerCore::BrokerCore(BrokerLimits limits, BrokerOutput& out) : impl_(std::make_unique<Impl>(limits, out)) {}
BrokerCore::~BrokerCore() = default;

void BrokerCore::on_open(ConnectionId id, ConnectionInfo info, Clock::time_point now) {
  impl_->call_time = now;
  {
    Busy busy(impl_->depth);
    // A reused id whose close was never reported: forget the old connection first.
    impl_->end_connection(id, "connection id reused", true, false);
  }
  impl_->flush_deferred();
  auto c = std::make_unique<Connection>();
  c->id = id;
  c->peer = std::move(info.peer);
  c->listener = std::move(info.listener);
  c->username = std::move(info.identity_username);
  c->certificate_authenticated = info.certificate_authenticated;
  c->anonymous_allowed = info.anonymous_allowed;
  c->username_as_client_id = info.username_as_client_id;
  c->zero_length_client_id_allowed = info.zero_length_client_id_allowed;
  c->passwords = std::move(info.passwords);
  c->acl_source = std::move(info.acl);
  c->reader = FrameReader(impl_->limits.max_packet_size);
  c->opened = now;
  c->last_packet = now;
  impl_->connections[id] = std::move(c);
}

void BrokerCore::on_bytes(ConnectionId id, std::span<const std::uint8_t> bytes, Clock::time_point now) {
  impl_->call_time = now;
  {
    Busy busy(impl_->depth);
    impl_->on_bytes(id, bytes, now);
  }
  impl_->flush_deferred();
}

void BrokerCore::on_close(ConnectionId id, Clock::time_point now) {
  impl_->call_time = now;
  if (impl_->depth > 0) {
    impl_->deferred_closes.push_back(id);
    return;
  }
  {
    Busy busy(impl_->depth);
    impl_->end_connection(id, "connection closed by peer or network", true, false);
  }
  impl_->flush_deferred();
}

void BrokerCore::on_writable(ConnectionId id, Clock::time_point now) {
  impl_->call_time = now;
  {
    Busy busy(impl_->depth);
    auto it = impl_->connections.find(id);
    if (it != impl_->connections.end()) impl_->pace_retained(*it->second);
  }
  impl_->flush_deferred();
}

void BrokerCore::set_acl(ConnectionId id, std::shared_ptr<const Acl> acl) {
  auto it = impl_->connections.find(id);
  if (it == impl_->connections.end()) return;
  Connection& c = *it->second;
  c.acl_source = std::move(acl);
  if (c.connected) impl_->compile_acl(c);
}

void BrokerCore::on_tick(Clock::time_point now) {
  impl_->call_time = now;
  {
    Busy busy(impl_->depth);
    impl_->on_tick(now);
  }
  impl_->flush_deferred();
}

BrokerStats BrokerCore::stats() const {
  BrokerStats s;
  s.connections = impl_->connections.size();
  s.sessions = impl_->sessions.size();
  s.retained = impl_->retained.size();
  s.subscriptions = impl_->subscriptions.size();
  s.messages_in = impl_->messages_in;
  s.messages_out = impl_->messages_out;
  return s;
}

}  // namespace mqttpki::mqtt
