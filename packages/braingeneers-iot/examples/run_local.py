"""Run the example stirrer against a local mosquitto and a local Strapi 4: one command, no lab access.

    python packages/braingeneers-iot/examples/run_local.py

Needs Debian's ``mosquitto``, Node.js with npm, and ``pytest`` (the Strapi helper of
``braingeneers.iot.testing`` imports it). The first run installs Strapi from the npm
registry into ``~/.cache/braingeneers-strapi`` (a few minutes). It prints the environment
variables that point ``braingeneers iot`` at the same servers; Ctrl-C stops everything.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from braingeneers.core.loopback import free_port, running_server
from braingeneers.iot.testing import running_strapi

HERE = Path(__file__).resolve().parent
STRAPI_PROJECT = HERE.parent / "tests" / "strapi"
sys.path.insert(0, str(HERE))

from example_device import Stirrer  # noqa: E402


def main() -> int:
    """Start mosquitto and Strapi on loopback, then run the stirrer until Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).exists():
        sys.stderr.write("mosquitto is not installed: apt-get install mosquitto\n")
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="braingeneers-local-"))
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    try:
        with (
            running_server([mosquitto, "-c", str(conf)], port),
            running_strapi(STRAPI_PROJECT, workdir, public=True) as strapi,
        ):
            settings = {
                "BRAINGENEERS_MQTT_HOST": "127.0.0.1",
                "BRAINGENEERS_MQTT_PORT": str(port),
                "BRAINGENEERS_STRAPI_ENDPOINT": strapi.url,
                "BRAINGENEERS_HTTP_USE_AUTH": "0",
            }
            os.environ.update(settings)
            exports = " ".join(f"{key}={value}" for key, value in settings.items())
            sys.stdout.write(
                f"\nmosquitto on 127.0.0.1:{port}, Strapi at {strapi.url} (data in {workdir}).\n"
                f"In another shell:\n  export {exports}\n"
                "  braingeneers iot devices\n"
                '  braingeneers iot send stirrer-1 START \'{"UUID": "2026-01-01-e-demo"}\'\n'
                "  braingeneers iot send stirrer-1 STIR '{\"SECONDS\": 3}' --uuid 2026-01-01-e-demo\n"
                "  braingeneers iot state get stirrer-1\n\n"
            )
            Stirrer("stirrer-1").run()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
