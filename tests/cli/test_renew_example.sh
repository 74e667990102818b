#!/usr/bin/env bash
# examples/renew.sh runs from start to end and shows what it promises.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v openssl >/dev/null || skip "openssl CLI not installed"
expect_ok "examples/renew.sh" env MQTTPKI="$MQTTPKI" bash "$MQTTPKI_SOURCE_DIR/examples/renew.sh"
expect_match "not due within 5d" "^not due +pi1: .* not within 5d" "$T/.out"
expect_match "renewed within 30d" "^renewed +pi1: serial" "$T/.out"
expect_match "same key" "the device key still matches: yes" "$T/.out"
expect_match "hook ran" "deploy hook: copy .*pi1.crt" "$T/.err"
expect_match "CRL re-issued by the daily run" "^renewed +CRL: number 2" "$T/.out"
finish
