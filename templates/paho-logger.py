#!/usr/bin/env python3
"""MQTT logger rendered by `mqttpki template paho-logger`: the seed's logging script, over mutual TLS
with the server certificate verified (host name against its subjectAltName), for paho-mqtt 1.6 and 2.x.

Writes every message on {{topic}} to {{log_file}}. Run: python3 mqtt_logger.py
"""
import ssl
import sys
import time

import paho.mqtt.client as mqtt

HOST = "{{broker_host}}"
PORT = {{broker_port}}
TOPIC = "{{topic}}"
LOG_FILE = "{{log_file}}"
CA_FILE = "{{cert_dir}}/ca_cert.pem"
CERT_FILE = "{{cert_dir}}/{{client_name}}_cert.pem"
KEY_FILE = "{{cert_dir}}/{{client_name}}_key.pem"


def on_connect(client, userdata, flags, reason_code, properties=None):
    if reason_code != 0:
        print(f"broker refused the connection: {reason_code}", file=sys.stderr)
        return
    print(f"connected to {HOST}:{PORT}, subscribing to {TOPIC}")
    # Subscribing here renews the subscription after every reconnect.
    client.subscribe(TOPIC, qos=1)


def on_message(client, userdata, msg):
    line = f"{time.ctime()} - {msg.topic}: {msg.payload.decode('utf-8', 'replace')}"
    print(line, flush=True)
    with open(LOG_FILE, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def make_client():
    client_id = "{{client_name}}-logger"
    if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    else:  # paho-mqtt 1.6 (Debian 12): on_connect gets (client, userdata, flags, rc)
        client = mqtt.Client(client_id=client_id)
    client.on_connect = on_connect
    client.on_message = on_message
    # CERT_REQUIRED + host name check: never "uncheck verify server certificate".
    client.tls_set(ca_certs=CA_FILE, certfile=CERT_FILE, keyfile=KEY_FILE,
                   cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.tls_insecure_set(False)
    return client


def main():
    client = make_client()
    client.connect(HOST, PORT, keepalive=60)
    client.loop_forever()


if __name__ == "__main__":
    main()
