#!/usr/bin/env bash
# The README's main command ends in examples/quickstart.sh; examples/fleet.sh issues a fleet from CSRs.
# Both run here as a user would, against the built binary.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
export MQTTPKI
expect_ok "quickstart passes" timeout 120 bash "$MQTTPKI_SOURCE_DIR/examples/quickstart.sh" --dir "$T/qs"
cp "$T/.out" "$T/quickstart.out"
expect_match "quickstart verdict" "^PASS: a CA, a server and a client certificate" "$T/quickstart.out"
expect_match "quickstart ran verify" "PASS: every check passed" "$T/quickstart.out"
expect_match "quickstart round trip" "sensors/pi1/temperature 21.5" "$T/quickstart.out"
expect_eq "Node-RED key is 0600" "600" "$(file_mode "$T/qs/node-red/pi1_key.pem")"
expect_eq "CA key is 0600" "600" "$(file_mode "$T/qs/pki/private/ca.key")"
expect_eq "CA private folder is 0700" "700" "$(file_mode "$T/qs/pki/private")"
expect_fail "quickstart refuses a folder that already holds a CA" "already holds a CA" \
  bash "$MQTTPKI_SOURCE_DIR/examples/quickstart.sh" --dir "$T/qs"

expect_ok "fleet of 5" timeout 120 bash "$MQTTPKI_SOURCE_DIR/examples/fleet.sh" --dir "$T/fleet" --count 5
cp "$T/.out" "$T/fleet.out"
expect_eq "fleet listed 5 devices" "5" "$(grep -c 'sensor-00[1-5]' "$T/fleet.out")"
expect_match "fleet summary" "5 device certificates issued" "$T/fleet.out"
finish
