#!/usr/bin/env bash
# The lifecycle simulation (test_lifecycle.sh) with the devices renewing themselves over MQTT: `mqttpki agent` on
# the CA host, `renew --via` on the Pis, `crl --via` on the broker host, all on one moved clock with Mosquitto.
LIFECYCLE_RENEWAL=mqtt LIFECYCLE_DAYS=${LIFECYCLE_DAYS:-200} exec bash "$MQTTPKI_SOURCE_DIR/tests/interop/test_lifecycle.sh"
