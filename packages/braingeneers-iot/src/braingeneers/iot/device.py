"""The ``Device`` state machine that lab devices subclass.

A device listens for commands over MQTT, keeps its state in its shadow (Strapi) and
answers on the legacy topics:

==============================================  ===========================================
request (device)                                ``telemetry/<UUID>/log/<device>/<CMD>/REQUEST``
request (whole experiment)                      ``telemetry/<UUID>/log/<CMD>/REQUEST``
replies                                         ``telemetry/<UUID>/log/<device>/<CMD>/<PHASE>``
==============================================  ===========================================

``PHASE`` is ``ACK``, ``COMPLETE``, ``ERROR``, ``RESPONSE`` or ``STOPPED``; a reply goes to
the experiment ``UUID`` of the request it answers. Payloads are JSON objects with upper-case
keys (``COMMAND``, ``FROM``, ``TIMESTAMP`` in ISO 8601 UTC, ...).

States: ``SHUTDOWN → IDLE → PRIMED → READY ⇄ EXEC / WAITING → ... → IDLE → SHUTDOWN``.
Every transition happens under one lock. Command handlers run on a worker thread, never on
the MQTT network thread; STOP and END never block it either: they signal
``Device.stop_event`` and a control thread finishes the transition once the handler
returns. Shadow pushes run on their own thread, coalesced, and are retried until Strapi
answers. The broker's last-will marks a crashed device ``offline`` on its retained status
topic ``braingeneers/status/<device>``.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from braingeneers.core.errors import ConfigError
from braingeneers.iot.clocks import Clock, ManualClock, SystemClock, utc_now
from braingeneers.iot.messaging import MessageBroker
from braingeneers.iot.schedule import ScheduledJob, parse_job
from braingeneers.iot.shadow_pusher import ShadowPusher
from braingeneers.iot.shadows import THING_TYPES, Shadows
from braingeneers.iot.transfers import Transfer, TransferQueue

__all__ = [
    "BUILTIN_COMMANDS",
    "SLACK_TOPIC",
    "Clock",
    "Device",
    "ManualClock",
    "State",
    "SystemClock",
    "utc_now",
]

_log = logging.getLogger(__name__)

UUID_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}-[efi]+-[A-Za-z0-9_.\-]+")
"""An experiment UUID: date, data kinds (``e``, ``f``, ``i``) and a name; matched in full."""

BUILTIN_COMMANDS = ("START", "END", "STOP", "PAUSE", "RESUME", "PING", "STATUS", "SCHEDULE")
"""Commands every device understands; others are looked up in ``device_specific_handlers``."""

SLACK_TOPIC = "telemetry/slack/TOSLACK/iot-experiments"
"""Topic the lab's Slack bridge relays to the ``iot-experiments`` channel."""

Handler = Callable[[str, dict[str, Any]], object]
"""A device-specific command handler: ``handler(topic, message)``."""


class State(str, Enum):
    """Device states."""

    SHUTDOWN = "SHUTDOWN"
    IDLE = "IDLE"
    PRIMED = "PRIMED"
    READY = "READY"
    EXEC = "EXEC"
    WAITING = "WAITING"

    def __str__(self) -> str:
        return self.value


class Device:
    """Base class of a lab device driven over MQTT, with its state in a Strapi shadow.

    Subclasses add command handlers to ``device_specific_handlers`` (``{KEY: fn(topic,
    message)}``), may extend :attr:`device_state` and override :meth:`is_primed`, and call
    :meth:`run` (legacy name ``start_mqtt``). Long handlers must return soon after
    ``stop_event`` is set.

    Parameters
    ----------
    device_name
        The device's name: its MQTT topics, broker name and shadow (interaction-thing) name.
    device_type
        Strapi ``interaction-things`` type: ``BioPlateScope``, ``Autoculture`` or ``Other``.
    primed_default
        What the default :meth:`is_primed` returns.
    broker
        The ``MessageBroker`` to use; default ``MessageBroker(device_name, envelope=envelope)``
        from the credentials file. Its retained status topic and last-will report online/offline.
    shadows
        The shadows client; default one built from the broker's credentials file.
    clock
        Time source (default :class:`~braingeneers.iot.clocks.SystemClock`);
        :class:`~braingeneers.iot.clocks.ManualClock` makes schedules testable.
    tick
        Seconds between main-loop steps (priming, pause expiry, due scheduled jobs).
    shadow_retry
        Seconds between attempts to push the shadow while Strapi is unreachable.
    envelope
        For the default broker: wrap published messages in the JSON envelope (duplicate
        suppression). Off by default, so replies are the legacy bare JSON objects that legacy
        devices and the lab's logging service read; incoming messages are understood either way.
    cache_dir
        The device's own directory (default ``~/.cache/braingeneers/<device>``); holds the
        journal of queued uploads and downloads (``transfers``), which survives restarts.
    """

    def __init__(
        self,
        device_name: str,
        device_type: str = "Other",
        primed_default: bool = False,
        *,
        broker: MessageBroker | None = None,
        shadows: Shadows | None = None,
        clock: Clock | None = None,
        tick: float = 1.0,
        shadow_retry: float = 5.0,
        cache_dir: str | Path | None = None,
        envelope: bool = False,
    ) -> None:
        if not device_name or any(c in device_name for c in "/+#"):
            raise ConfigError(f"device name {device_name!r} must be non-empty without '/', '+' or '#'")
        if device_type not in THING_TYPES:
            raise ConfigError(f"device type {device_type!r} is not one of {', '.join(THING_TYPES)}")
        self.device_name = device_name
        self.device_type = device_type
        self.primed_default = primed_default
        self.clock: Clock = clock or SystemClock()
        self.tick = tick
        if broker is None:
            broker = MessageBroker(device_name, envelope=envelope)
        self.mb = broker
        self._shadows = shadows
        self.state = State.SHUTDOWN
        self.experiment_uuid = "NONE"
        self.teammates: list[str] = []
        self.pause_until: datetime | None = None
        self.who_paused: str | None = None
        self.exec_job: str | None = None
        self.exec_until: datetime | None = None
        self.stop_event = threading.Event()
        self.device_specific_handlers: dict[str, Handler] = {}
        self._lock = threading.RLock()
        self._jobs: dict[int, ScheduledJob] = {}
        self._next_tag = 1
        self._ending = False
        self._exec_future: Future[None] | None = None
        self._exec_pool = ThreadPoolExecutor(1, thread_name_prefix=f"{device_name}-exec")
        self._control_pool = ThreadPoolExecutor(1, thread_name_prefix=f"{device_name}-control")
        self._stopped = threading.Event()
        self._subscribed: list[str] = []
        self._pusher = ShadowPusher(self, shadow_retry)
        self.cache_dir = (
            Path(cache_dir) if cache_dir else Path.home() / ".cache" / "braingeneers" / device_name
        )
        self.transfers = TransferQueue(self.cache_dir / "transfers", on_success=self._announce)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.device_name!r}, state={self.state.value})"

    # --- extension points ----------------------------------------------------------------------

    def is_primed(self) -> bool:
        """Return whether the device is ready for an experiment (polled in IDLE; must not block)."""
        return self.primed_default

    @property
    def device_state(self) -> dict[str, Any]:
        """The shadow content; subclasses extend it with ``{**super().device_state, ...}``."""
        with self._lock:
            return {
                "STATE": self.state.value,
                "UUID": self.experiment_uuid,
                "TEAMMATES": list(self.teammates),
                "SCHEDULE": [job.describe() for job in sorted(self._jobs.values(), key=lambda j: j.tag)],
                "PAUSE_UNTIL": self.pause_until.isoformat() if self.pause_until else "never",
                "WHO_PAUSED": self.who_paused,
                "EXEC_JOB": self.exec_job,
                "EXEC_UNTIL": self.exec_until.isoformat() if self.exec_until else "never",
            }

    @property
    def shadows(self) -> Shadows:
        """The shadows client (built from the broker's credentials file on first use)."""
        if self._shadows is None:
            self._shadows = Shadows(credentials=self.mb.credentials_file)
        return self._shadows

    # --- topics --------------------------------------------------------------------------------

    def request_topics(self, uuid: str | None = None) -> list[str]:
        """Return the topic filters the device listens on for experiment ``uuid`` (default: current)."""
        uuid = uuid or self.experiment_uuid
        return [f"telemetry/{uuid}/log/{self.device_name}/+/REQUEST", f"telemetry/{uuid}/log/+/REQUEST"]

    def generate_response_topic(self, key: str, phase: str, uuid: str | None = None) -> str:
        """Return the reply topic of ``key`` in ``phase`` for experiment ``uuid`` (default: current)."""
        return f"telemetry/{uuid or self.experiment_uuid}/log/{self.device_name}/{key}/{phase}"

    def reply(self, request_topic: str, key: str, phase: str, body: Mapping[str, Any] | None = None) -> None:
        """Publish a reply to the request on ``request_topic``, in the request's experiment."""
        uuid = request_topic.split("/")[1] if request_topic.count("/") >= 4 else self.experiment_uuid
        message = {
            "COMMAND": f"{key}-{phase}",
            "FROM": self.device_name,
            "TIMESTAMP": self.clock.now().isoformat(),
            **(body or {}),
        }
        self.mb.publish_message(self.generate_response_topic(key, phase, uuid), message)

    # --- lifecycle -----------------------------------------------------------------------------

    def connect(self) -> None:
        """Subscribe to the command topics and enter IDLE (done by :meth:`run`)."""
        self._pusher.start()
        self.transfers.start()
        with self._lock:
            self._resubscribe("NONE")
            self.state = State.IDLE
        self.push_shadow()

    def run(self, install_signal_handlers: bool = True) -> None:
        """Connect, then step the state machine every ``tick`` seconds until :meth:`stop`; shut down.

        SIGINT and SIGTERM stop the loop when ``install_signal_handlers`` and this is the main thread.
        """
        if install_signal_handlers and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.stop())
        self.connect()
        try:
            while not self._stopped.is_set():
                self.step()
                self._stopped.wait(self.tick)
        finally:
            self.shutdown()

    start_mqtt = run

    def stop(self) -> None:
        """Ask :meth:`run` to return (it shuts the device down)."""
        self._stopped.set()

    def step(self) -> None:
        """Advance the state machine once: priming, pause expiry, due scheduled jobs."""
        if self.state is State.IDLE and self.is_primed():
            self._transition(State.IDLE, State.PRIMED)
        now = self.clock.now()
        due: ScheduledJob | None = None
        with self._lock:
            if self.state is State.READY and self.pause_until is not None and now < self.pause_until:
                self._set(State.WAITING)
            elif self.state is State.WAITING and (self.pause_until is None or now >= self.pause_until):
                self.pause_until, self.who_paused = None, None
                self._set(State.READY)
            if self.state is State.READY and not self._ending:
                ready = [job for job in self._jobs.values() if job.next_run <= now]
                if ready:
                    due = min(ready, key=lambda job: (job.next_run, job.tag))
                    if due.once or due.interval is None:
                        del self._jobs[due.tag]
                    else:
                        while due.next_run <= now:
                            due.next_run += due.interval
        if due is not None:
            topic = f"telemetry/{self.experiment_uuid}/log/{self.device_name}/{due.key}/REQUEST"
            _log.info("%s: running scheduled job %d (%s)", self.device_name, due.tag, due.key)
            self._device_command(due.key, topic, dict(due.message))

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop a running handler, push the SHUTDOWN state, and close the broker."""
        self._stopped.set()
        self.stop_event.set()
        with self._lock:
            future = self._exec_future
        if future is not None:
            try:
                future.result(timeout)
            except Exception:  # the handler's error was reported already
                _log.debug("handler ended with an error during shutdown", exc_info=True)
        with self._lock:
            self._set(State.SHUTDOWN, push=False)
        self._pusher.close(timeout)
        self.transfers.close(timeout)
        self._exec_pool.shutdown(wait=False, cancel_futures=True)
        self._control_pool.shutdown(wait=False, cancel_futures=True)
        self.mb.shutdown(timeout=min(timeout, 5.0))

    def update_state(self, new_state: State | str) -> None:
        """Move to ``new_state`` (under the state lock) and push the shadow; the legacy helper."""
        try:
            state = State(new_state)
        except ValueError:
            raise ConfigError(
                f"{new_state!r} is not a state: use one of {', '.join(s.value for s in State)}"
            ) from None
        self._set(state)

    def push_shadow(self) -> None:
        """Queue an asynchronous push of :attr:`device_state` (coalesced with pending pushes)."""
        self._pusher.request()

    def wait_for_shadow(self, timeout: float = 10.0) -> bool:
        """Wait until every requested shadow push has reached Strapi; return whether it did."""
        return self._pusher.wait_idle(timeout)

    # --- helpers for handlers ------------------------------------------------------------------

    def peek_jobs(self, lookahead_seconds: float = 10.0) -> list[dict[str, Any]]:
        """Return the scheduled jobs due within ``lookahead_seconds`` (as in ``SCHEDULE GET``)."""
        horizon = self.clock.now() + timedelta(seconds=lookahead_seconds)
        with self._lock:
            due = sorted((j for j in self._jobs.values() if j.next_run <= horizon), key=lambda j: j.next_run)
            return [job.describe() for job in due]

    def unpack(  # noqa: PLR0917 - the legacy positional signature
        self,
        topic: str,
        message: Mapping[str, Any],
        field: str,
        match_items: list[str],
        sort_all: bool = False,
        enqueue_schedule: bool = True,
    ) -> tuple[bool, list[str]]:
        """Expand a pattern in ``message[field]`` against ``match_items`` (e.g. well names).

        A value like ``"A*"`` is a glob (``fnmatch``), ``"^A[12]$"`` a regular expression,
        a list is taken as it is, and any other value as one item. Returns ``(expanded,
        items)``, where ``expanded`` says whether the value was a pattern or list of more than
        one item. With ``enqueue_schedule`` and ``expanded``, one one-shot job per item is
        queued, each a copy of the request (from ``topic``) with ``field`` set to that item;
        the caller then returns without acting on the pattern itself.
        """
        import fnmatch

        value = message.get(field)
        if isinstance(value, list):
            items = [str(v) for v in value]
        elif isinstance(value, str) and value.startswith("^") and value.endswith("$"):
            pattern = re.compile(value)
            items = [item for item in match_items if pattern.fullmatch(item)]
        elif isinstance(value, str) and any(c in value for c in "*?["):
            items = [item for item in match_items if fnmatch.fnmatchcase(item, value)]
        else:
            return False, [] if value is None else [str(value)]
        if sort_all:
            items.sort()
        expanded = len(items) != 1 or items[0] != value
        if expanded and enqueue_schedule:
            key = topic.split("/")[-2]
            with self._lock:
                for item in items:
                    tag = self._next_tag
                    self._next_tag += 1
                    self._jobs[tag] = ScheduledJob(
                        tag, key, {**message, field: item}, self.clock.now(), None, True
                    )
            self.push_shadow()
        return expanded, items

    def post_to_slack(self, text: str, image_path: str | Path | None = None) -> None:
        """Post ``text`` (and a PNG/JPEG image) to the lab's Slack through the MQTT Slack bridge."""
        import base64

        message: dict[str, Any] = {"message": f"{self.device_name}: {text}"}
        if image_path is not None:
            path = Path(image_path)
            message["filename"] = path.name
            message["image"] = base64.b64encode(path.read_bytes()).decode("ascii")
        self.mb.publish_message(SLACK_TOPIC, message)

    # --- data transfers ------------------------------------------------------------------------

    @staticmethod
    def s3_basepath(uuid: str) -> str:
        """Return the S3 prefix of experiment ``uuid`` by its data kinds (``-e-``, ``-f-``, ``-i-``)."""
        kinds = uuid.split("-")[3] if uuid.count("-") >= 4 else ""
        prefix = {"e": "ephys", "f": "fluidics", "i": "imaging"}.get(kinds, "integrated")
        return f"s3://braingeneers/{prefix}/"

    def upload_file(  # noqa: PLR0917 - the legacy positional signature
        self,
        s3_location: str,
        local_path: str | Path,
        delete_local: bool = False,
        announce_completion: tuple[str, Any] | None = None,
        wait_for_completion: bool = False,
        timeout: float | None = None,
    ) -> Transfer:
        """Queue an upload through the persistent transfer queue (it survives restarts and retries).

        ``announce_completion`` is a ``(topic, message)`` published once the upload succeeds;
        ``wait_for_completion`` blocks until then (for at most ``timeout`` seconds).
        """
        job = self.transfers.upload(local_path, s3_location, delete_local, announce_completion)
        self.transfers.start()
        if wait_for_completion:
            self.transfers.wait(job, timeout)
        return job

    def download_file(
        self,
        s3_path: str,
        local_path: str | Path,
        wait_for_completion: bool = True,
        timeout: float | None = None,
    ) -> Transfer:
        """Queue a download through the persistent transfer queue; by default wait until it is done."""
        job = self.transfers.download(s3_path, local_path)
        self.transfers.start()
        if wait_for_completion:
            self.transfers.wait(job, timeout)
        return job

    def _announce(self, job: Transfer) -> None:
        if job.announce:
            topic, message = job.announce
            self.mb.publish_message(str(topic), message)

    # --- internals -----------------------------------------------------------------------------

    def _set(self, state: State, push: bool = True) -> None:
        with self._lock:
            if self.state is not state:
                _log.info("%s: %s -> %s", self.device_name, self.state.value, state.value)
            self.state = state
        if push:
            self.push_shadow()

    def _transition(self, expected: State, new: State) -> bool:
        with self._lock:
            if self.state is not expected:
                return False
            self._set(new)
            return True

    def _resubscribe(self, uuid: str) -> None:
        for topic in self._subscribed:
            self.mb.unsubscribe_message(topic)
        self._subscribed = self.request_topics(uuid)
        self.experiment_uuid = uuid
        for topic in self._subscribed:
            self.mb.subscribe_message(topic, self._on_message)

    def _on_message(self, topic: str, message: Any) -> None:
        parts = topic.split("/")
        if len(parts) < 5 or parts[-1] != "REQUEST":
            return
        key = parts[-2]
        targeted = len(parts) == 6 and parts[3] == self.device_name
        if not isinstance(message, dict):
            if targeted:
                self.reply(topic, key, "ERROR", {"ERROR": "the request must be a JSON object"})
            return
        builtin = getattr(self, f"_cmd_{key.lower()}", None) if key in BUILTIN_COMMANDS else None
        try:
            if builtin is not None:
                builtin(topic, key, message, targeted)
            elif targeted:
                self._device_command(key, topic, message)
        except Exception as exc:
            _log.exception("%s: command %s failed", self.device_name, key)
            self.reply(topic, key, "ERROR", {"ERROR": f"{type(exc).__name__}: {exc}"})

    def _sender(self, message: Mapping[str, Any]) -> str:
        return str(message.get("FROM") or "")

    def _cmd_start(self, topic: str, key: str, message: dict[str, Any], targeted: bool) -> None:
        if not targeted:
            return
        uuid = str(message.get("UUID", ""))
        with self._lock:
            if self.state is not State.PRIMED:
                reason = (
                    "Not PRIMED"
                    if self.state is State.IDLE
                    else f"Already in experiment {self.experiment_uuid}"
                )
                self.reply(topic, key, "ERROR", {"ERROR": reason})
                return
            if not UUID_PATTERN.fullmatch(uuid):
                self.reply(topic, key, "ERROR", {"ERROR": f"UUID {uuid!r} is not YYYY-MM-DD-<efi>-<name>"})
                return
            teammates = message.get("TEAMMATES") or []
            self.teammates = [str(t) for t in teammates] if isinstance(teammates, list) else [str(teammates)]
            self._resubscribe(uuid)
            self._set(State.READY)
        self.reply(topic, key, "COMPLETE", {"UUID": uuid})

    def _cmd_end(self, topic: str, key: str, message: dict[str, Any], targeted: bool) -> None:
        with self._lock:
            if self.state is State.PRIMED:
                self._set(State.IDLE)
                self.reply(topic, key, "COMPLETE")
                return
            if self.state not in (State.READY, State.WAITING, State.EXEC) or self._ending:
                self.reply(topic, key, "ERROR", {"ERROR": f"not in an experiment (state {self.state.value})"})
                return
            self._ending = True
            future = self._exec_future if self.state is State.EXEC else None
            if future is not None:
                self.stop_event.set()
        self._control_pool.submit(self._finish_end, future, topic, key)

    def _finish_end(self, future: Future[None] | None, topic: str, key: str) -> None:
        if future is not None:
            _wait(future)
        with self._lock:
            self.stop_event.clear()
            self.teammates = []
            self.pause_until, self.who_paused = None, None
            self._jobs.clear()
            self._resubscribe("NONE")
            self._ending = False
            self._set(State.IDLE)
        self.reply(topic, key, "COMPLETE")

    def _cmd_stop(self, topic: str, key: str, message: dict[str, Any], targeted: bool) -> None:
        with self._lock:
            future = self._exec_future if self.state is State.EXEC else None
            if future is None:
                self.reply(topic, key, "ERROR", {"ERROR": f"nothing is running (state {self.state.value})"})
                return
            self.stop_event.set()
        self._control_pool.submit(self._finish_stop, future, topic, key)

    def _finish_stop(self, future: Future[None], topic: str, key: str) -> None:
        _wait(future)
        self.reply(topic, key, "COMPLETE")

    def _cmd_pause(self, topic: str, key: str, message: dict[str, Any], targeted: bool) -> None:
        sender = self._sender(message)
        if sender == self.device_name:
            return
        try:
            seconds = float(message.get("SECONDS", 0))
        except (TypeError, ValueError):
            seconds = 0.0
        with self._lock:
            until = self.clock.now() + timedelta(seconds=seconds)
            error = None
            if self.state not in (State.READY, State.EXEC, State.WAITING):
                error = f"cannot pause in state {self.state.value}"
            elif seconds <= 0:
                error = "SECONDS must be a positive number"
            elif self.pause_until is not None and until <= self.pause_until and sender != self.who_paused:
                error = f"already paused by {self.who_paused} until {self.pause_until.isoformat()}"
            if error is None:
                self.pause_until, self.who_paused = until, sender
                if self.state is State.READY:
                    self._set(State.WAITING)
                else:
                    self.push_shadow()
        if error is not None:
            self.reply(topic, key, "ERROR", {"ERROR": error})
        else:
            self.reply(topic, key, "ACK", {"PAUSE_UNTIL": until.isoformat(), "WHO_PAUSED": sender})

    def _cmd_resume(self, topic: str, key: str, message: dict[str, Any], targeted: bool) -> None:
        sender = self._sender(message)
        if sender == self.device_name:
            return
        with self._lock:
            allowed = self.state in (State.WAITING, State.EXEC) and sender == self.who_paused
            if allowed:
                self.pause_until, self.who_paused = None, None
                if self.state is State.WAITING:
                    self._set(State.READY)
                else:
                    self.push_shadow()
            else:
                reason = f"not paused by {sender!r} (state {self.state.value}, paused by {self.who_paused!r})"
        if allowed:
            self.reply(topic, key, "ACK")
        else:
            self.reply(topic, key, "ERROR", {"ERROR": reason})

    def _cmd_ping(self, topic: str, key: str, message: dict[str, Any], targeted: bool) -> None:
        self.push_shadow()
        self.reply(topic, key, "RESPONSE")

    def _cmd_status(self, topic: str, key: str, message: dict[str, Any], targeted: bool) -> None:
        self.reply(topic, key, "RESPONSE", self.device_state)

    def _cmd_schedule(self, topic: str, key: str, message: dict[str, Any], targeted: bool) -> None:
        if not targeted or self._sender(message) == self.device_name:
            return
        kind = str(message.get("TYPE", "")).upper()
        with self._lock:
            if self.state not in (State.READY, State.WAITING, State.EXEC):
                self.reply(topic, key, "ERROR", {"ERROR": f"no schedule in state {self.state.value}"})
                return
            if kind == "ADD":
                job = self._parse_job(message)
                self._jobs[job.tag] = job
                self.push_shadow()
                self.reply(
                    topic, key, "COMPLETE", {"TAG": str(job.tag), "NEXT_RUN": job.next_run.isoformat()}
                )
            elif kind == "CLEAR":
                tag = message.get("TAG")
                if tag is None or str(tag).strip() == "":
                    self._jobs.clear()
                elif str(tag).isdigit() and int(tag) in self._jobs:
                    del self._jobs[int(tag)]
                else:
                    self.reply(topic, key, "ERROR", {"ERROR": f"no scheduled job with TAG {tag!r}"})
                    return
                self.push_shadow()
                self.reply(topic, key, "COMPLETE")
            elif kind == "GET":
                jobs = [job.describe() for job in sorted(self._jobs.values(), key=lambda j: j.tag)]
                self.reply(topic, key, "RESPONSE", {"JOBS": jobs})
            else:
                self.reply(topic, key, "ERROR", {"ERROR": f"TYPE must be ADD, CLEAR or GET, not {kind!r}"})

    def _parse_job(self, message: Mapping[str, Any]) -> ScheduledJob:
        job = parse_job(message, self.clock.now(), self._next_tag)
        self._next_tag += 1
        return job

    def _device_command(self, key: str, topic: str, message: dict[str, Any]) -> None:
        handler = self.device_specific_handlers.get(key)
        if handler is None:
            self.reply(topic, key, "ERROR", {"ERROR": "Command not supported"})
            return
        with self._lock:
            if self.state is State.READY and not self._ending:
                now = self.clock.now()
                self.exec_job = key
                seconds = float(message.get("SECONDS") or 0) + 60 * float(message.get("MINUTES") or 0)
                self.exec_until = now + timedelta(seconds=seconds) if seconds else None
                self.stop_event.clear()
                self._set(State.EXEC)
                self._exec_future = self._exec_pool.submit(self._run_handler, handler, key, topic, message)
                return
            if self.state in (State.WAITING, State.EXEC) and not self._ending:
                tag = self._next_tag
                self._next_tag += 1
                self._jobs[tag] = ScheduledJob(tag, key, dict(message), self.clock.now(), None, True)
                reason = f"device is {self.state.value}: scheduled as job {tag} to run when READY"
            else:
                reason = f"device is {self.state.value}, not READY"
        self.reply(topic, key, "ERROR", {"ERROR": reason})

    def _run_handler(self, handler: Handler, key: str, topic: str, message: dict[str, Any]) -> None:
        self.reply(topic, key, "ACK")
        phase, body = "COMPLETE", {}
        try:
            handler(topic, message)
            if self.stop_event.is_set():
                phase = "STOPPED"
        except Exception as exc:
            _log.exception("%s: handler for %s raised", self.device_name, key)
            phase, body = "ERROR", {"ERROR": f"{type(exc).__name__}: {exc}"}
        with self._lock:
            self.exec_job, self.exec_until = None, None
            paused = self.pause_until is not None and self.clock.now() < self.pause_until
            if self.state is State.EXEC:
                self._set(State.WAITING if paused else State.READY)
            self._exec_future = None
        self.reply(topic, key, phase, body)


def _wait(future: Future[None]) -> None:
    try:
        future.result()
    except Exception:  # the handler reported its own error
        _log.debug("handler ended with an error", exc_info=True)
