"""Shared by the Python interop tests (not a test itself): paho from Debian's interpreter, and a check tally."""
import os
import sys

try:
    import paho.mqtt.client as mqtt  # noqa: F401 (re-exported)
except ImportError:
    # Debian's python3-paho-mqtt lives in the system interpreter; a pyenv/venv python3 may come first.
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("SKIP: python3-paho-mqtt not installed")
    sys.exit(77)


class Tally:
    """check(desc, cond, detail) counts a pass or records and prints a failure."""

    def __init__(self):
        self.failures = []
        self.passes = 0

    def check(self, desc, cond, detail=""):
        if cond:
            self.passes += 1
        else:
            self.failures.append(f"{desc} {detail}")
            print(f"FAIL: {desc} {detail}", file=sys.stderr)
