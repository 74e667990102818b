#pragma once
// mqttpki::core: the one exception type of every layer above the protocol code (pki, store, net's setup and
// configuration, the commands): an error code plus a one-line human message that names the file involved and
// the fix. The CLI maps codes to exit codes in one place (apps/mqttpki/main.cpp). Header-only.

#include <stdexcept>
#include <string>

namespace mqttpki {

enum class Errc {
  invalid_argument = 1,  // bad flag value, bad SAN syntax, bad duration
  not_found,             // a file or CA folder that is not there
  io,                    // read/write/rename/fsync failed
  already_exists,        // refusing to overwrite without --force
  bad_format,            // not PEM/DER of the expected kind, truncated, garbage
  bad_passphrase,        // wrong or missing passphrase for an encrypted key
  crypto,                // an OpenSSL call failed
  policy,                // refused by issuance policy (weak key, missing SAN, CN clash, ...)
  expired,               // CA or certificate outside its validity
  mismatch,              // key does not match certificate, and the like
  locked,                // the CA folder lock could not be taken
  verify_failed,         // a verification or end-to-end check failed
  network,               // connection, handshake or protocol failure
};

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  [[nodiscard]] Errc code() const noexcept { return code_; }

 private:
  Errc code_;
};

}  // namespace mqttpki
