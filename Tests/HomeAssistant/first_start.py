"""The cache's last step, run inside the root: one start of Home Assistant with the harness's kind of configuration
(homeassistant, http, logger and mqtt), so that HA pip-installs the requirements of every integration it sets up
(bootstrap's defaults and mqtt) now, into the venv, and later runs need no PyPI (they pass --skip-pip)."""
import os
import socket
import subprocess
import sys
import time

conf = "/tmp/first-start"
os.makedirs(conf, exist_ok=True)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
with open(f"{conf}/configuration.yaml", "w") as f:
    f.write(f"homeassistant:\n  name: first-start\nhttp:\n  server_host: 127.0.0.1\n  server_port: {port}\n"
            "logger:\n  default: info\nmqtt:\n")
start = time.monotonic()
hass = subprocess.Popen(["/opt/ha/bin/hass", "-c", conf, "--log-file", f"{conf}/home-assistant.log"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
log = f"{conf}/home-assistant.log"
try:
    while time.monotonic() - start < 1200:
        if hass.poll() is not None:
            sys.exit(f"hass exited with {hass.returncode}")
        if os.path.exists(log) and "Home Assistant initialized" in open(log, errors="replace").read():
            break
        time.sleep(2)
    else:
        sys.exit("hass did not finish starting in 20 minutes")
    print(f"first start: initialized after {time.monotonic() - start:.0f} s")
finally:
    hass.terminate()
    try:
        hass.wait(60)
    except subprocess.TimeoutExpired:
        hass.kill()
for line in open(log, errors="replace"):
    if " WARNING " in line or " ERROR " in line or "Installing" in line or "install" in line.lower():
        print(line.rstrip())
