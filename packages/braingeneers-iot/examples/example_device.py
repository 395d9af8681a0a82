"""An example lab device: a stirrer with two commands, STIR and SET_SPEED.

Run it against the lab's services (settings from the credentials file)::

    python examples/example_device.py --name stirrer-1

or against a local mosquitto and Strapi started for you::

    python examples/run_local.py

MQTT settings can also come from ``BRAINGENEERS_MQTT_HOST``/``_PORT``/``_USERNAME``/``_PASSWORD``
and the Strapi URL from ``BRAINGENEERS_STRAPI_ENDPOINT``.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from braingeneers.iot.device import Device


class Stirrer(Device):
    """A magnetic stirrer: ``STIR`` for ``SECONDS`` at the current speed; ``SET_SPEED`` to ``RPM``."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, "Other", primed_default=True, **kwargs)
        self.rpm = 100
        self.device_specific_handlers.update({"STIR": self.stir, "SET_SPEED": self.set_speed})

    @property
    def device_state(self) -> dict[str, Any]:
        """Add the stirring speed to the shadow."""
        return {**super().device_state, "RPM": self.rpm}

    def stir(self, topic: str, message: dict[str, Any]) -> None:
        """Stir for ``SECONDS`` (default 5), returning early when STOP or END arrives."""
        seconds = float(message.get("SECONDS", 5))
        logging.getLogger(__name__).info("stirring at %d rpm for %g s", self.rpm, seconds)
        self.stop_event.wait(seconds)  # a real device would poll its hardware here

    def set_speed(self, topic: str, message: dict[str, Any]) -> None:
        """Set the speed to ``RPM`` (1-2000)."""
        rpm = int(message["RPM"])
        if not 1 <= rpm <= 2000:
            raise ValueError(f"RPM must be 1-2000, got {rpm}")
        self.rpm = rpm
        self.push_shadow()


def main() -> None:
    """Run the stirrer until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="stirrer-1", help="device name (MQTT topics and shadow)")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between state-machine steps")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    Stirrer(args.name, tick=args.tick).run()


if __name__ == "__main__":
    main()
