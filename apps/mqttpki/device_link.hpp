#pragma once
// The device side of renewal over MQTT (docs/renewal-over-mqtt.md), shared by `renew --via` and `crl --via`:
// cron-safe runs that talk to the CA's agent through the broker the device already uses, and install what they
// receive only after checking it, atomically.

#include "command.hpp"
#include "mqtt_common.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace mqttpki::cli {

// Exit status of a run whose request is queued in the broker but got no answer within --wait: the next run
// picks the answer up (it is retained).
inline constexpr int exit_queued = 5;

struct DeviceRenewal {
  BrokerLink link;                              // address: --via
  std::string name;                             // NAME in the CA's records; empty: the certificate's CN
  std::optional<std::chrono::seconds> within;   // renew only when expiring within; none: now
  bool rekey = false;                           // ask for a new key (kept in KEY.next until installed)
  std::chrono::seconds wait{30};
  std::string hook;
  bool quiet = false;
};

// `renew --via`: 0 renewed or not due; exit_queued; errors throw.
int renew_via(Context& ctx, const DeviceRenewal& request);

struct CrlFetch {
  BrokerLink link;  // address: --via
  std::string out;
  std::string hook;
  std::chrono::seconds wait{10};
  bool force = false;  // replace an --out file that is not a CRL of this CA
};

// `crl --via`: installs the published CRL in `out` when it is newer; 0 installed or up to date; exit_queued when
// nothing was published within --wait; errors throw.
int crl_via(Context& ctx, const CrlFetch& fetch);

}  // namespace mqttpki::cli
