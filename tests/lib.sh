# Shared helpers for the shell tests in tests/cli and tests/interop. Source it first:
#   . "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
# Gives: $MQTTPKI (the binary), $T (a fresh temp folder removed on exit), and the assertions below.
set -euo pipefail
: "${MQTTPKI:?set MQTTPKI to the built mqttpki binary}"
: "${MQTTPKI_SOURCE_DIR:?set MQTTPKI_SOURCE_DIR to the source tree}"
T=$(mktemp -d "${TMPDIR:-/tmp}/mqttpki-test.XXXXXX")
_cleanup_pids=()
_cleanup() {
  local pid
  for pid in "${_cleanup_pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap _cleanup EXIT
cd "$T"
# Tests that move the clock preload libfaketime into the binary; an AddressSanitizer build (tools/test.sh
# --sanitize) would refuse to start with another library ahead of its runtime. Harmless for other builds.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
# Debian's Python, which has the Debian packages the tests use (python3-paho-mqtt), even when another
# python3 (pyenv, a venv) comes first on PATH.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
_fails=0
_passes=0

fail() { echo "FAIL: $*" >&2; _fails=$((_fails + 1)); }
pass() { _passes=$((_passes + 1)); }
# listening_port FILE: the port of the first "listening on 127.0.0.1:PORT (tls)" line of a broker's stdout, or
# nothing yet. Never fails: the background broker may not even have created FILE when this first runs.
listening_port() { sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) (tls).*/\1/p' "$1" 2>/dev/null | head -n 1 || true; }
# kill this pid when the test ends
track_pid() { _cleanup_pids+=("$1"); }

# expect_ok DESC CMD...: CMD must exit 0.
expect_ok() {
  local desc=$1; shift
  if "$@" >"$T/.out" 2>"$T/.err"; then pass; else fail "$desc (exit $?): $(head -c 600 "$T/.err")"; fi
}
# expect_fail DESC PATTERN CMD...: CMD must exit non-zero and print PATTERN (grep -E) on stderr.
expect_fail() {
  local desc=$1 pattern=$2; shift 2
  if "$@" >"$T/.out" 2>"$T/.err"; then
    fail "$desc: expected failure, got exit 0"
  elif ! grep -qE -- "$pattern" "$T/.err"; then
    fail "$desc: stderr does not match /$pattern/: $(head -c 600 "$T/.err")"
  else
    pass
  fi
}
# expect_eq DESC EXPECTED ACTUAL
expect_eq() { if [ "$2" = "$3" ]; then pass; else fail "$1: expected '$2', got '$3'"; fi; }
# expect_match DESC PATTERN FILE
expect_match() { if grep -qE -- "$2" "$3"; then pass; else fail "$1: /$2/ not in $3: $(head -c 600 "$3")"; fi; }
# file_mode FILE: octal permission bits
file_mode() { stat -c '%a' "$1"; }
# free_port: an ephemeral TCP port on 127.0.0.1 that was free a moment ago
free_port() { "${PYTHON:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# wait_port PORT [SECONDS]: wait until something listens on 127.0.0.1:PORT
wait_port() {
  local port=$1 limit=${2:-10} i
  for ((i = 0; i < limit * 20; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
# skip WHY: mark the test skipped (CTest SKIP_RETURN_CODE 77)
skip() { echo "SKIP: $*"; exit 77; }
# finish: print the tally and exit non-zero on any failure
finish() {
  echo "$_passes passed, $_fails failed"
  [ "$_fails" -eq 0 ]
}

# The CA's records (DIR/ca.db) as JSON, in the shape index.json had: {"crl_number": N, "certificates": [...]},
# each certificate with the database's columns but its bytes (serial, name, cn, status, superseded_by, ...).
ca_records() {
  "${PYTHON:-python3}" - "$1" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect("file:%s/ca.db?mode=ro" % sys.argv[1], uri=True, timeout=30)
db.row_factory = sqlite3.Row
certs = [{k: r[k] for k in r.keys() if k not in ("id", "der")}
         for r in db.execute("SELECT * FROM certificates ORDER BY id")]
n = db.execute("SELECT value FROM counters WHERE name = 'crl_number'").fetchone()[0]
print(json.dumps({"crl_number": n, "certificates": certs}, indent=1))
PY
}
