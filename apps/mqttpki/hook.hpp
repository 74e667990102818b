#pragma once
// Running a user's command (a deploy hook, deploy's --reload) with /bin/sh -c. Shared by `renew` and
// `deploy`.

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mqttpki::cli {

using HookVars = std::vector<std::pair<std::string, std::string>>;

// Runs CMD with /bin/sh -c and its stdout sent to our stderr (so --json output stays clean). Its
// environment is ours scrubbed, plus `vars`: every MQTTPKI_* variable of ours is dropped (above all
// MQTTPKI_PASSPHRASE, the CA key's secret, which a hook must never see; also a stale MQTTPKI_KIND or
// MQTTPKI_CRL from an outer hook), except MQTTPKI_DIR. Returns a description of the failure, or nullopt
// when it exited 0.
std::optional<std::string> run_hook(const std::string& command, const HookVars& vars);

// The environment of a hook run for a new certificate (`renew`, `agent`, `renew --via`): MQTTPKI_KIND=certificate,
// MQTTPKI_NAME, MQTTPKI_CERT and MQTTPKI_CA (absolute paths), MQTTPKI_SERIAL; `extra` appended (MQTTPKI_KEY).
HookVars certificate_hook_vars(const std::string& name, const std::filesystem::path& cert,
                               const std::filesystem::path& ca, const std::string& serial, HookVars extra = {});

}  // namespace mqttpki::cli
