"""``braingeneers iot``: publish, watch and drive lab devices from a shell.

Subcommands: ``pub``, ``sub``, ``devices``, ``state get|set``, ``send``, ``queue`` and
``lock``. MQTT and Redis settings come from the credentials file or the
``BRAINGENEERS_MQTT_*`` / ``BRAINGENEERS_REDIS_*`` variables (see
:mod:`braingeneers.iot.settings`); Strapi from ``[strapi]`` or ``BRAINGENEERS_STRAPI_ENDPOINT``.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from braingeneers.core.errors import ConfigError

if TYPE_CHECKING:
    from braingeneers.iot.messaging import MessageBroker
    from braingeneers.iot.shadows import Shadows

__all__ = ["configure"]

_FINAL_PHASES = {"COMPLETE", "ERROR", "RESPONSE", "STOPPED"}


def _broker(args: argparse.Namespace) -> MessageBroker:
    from braingeneers.iot.messaging import MessageBroker

    return MessageBroker(args.name, args.credentials, status=False, envelope=args.envelope)


def _shadows(args: argparse.Namespace) -> Shadows:
    from braingeneers.iot.shadows import Shadows

    return Shadows(credentials=args.credentials)


def _parse_value(text: str) -> Any:
    """Decode ``text`` as JSON if it is JSON, else keep it a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _json_object(text: str | None, what: str) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{what} is not JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _print_message(topic: str, message: Any) -> None:
    stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
    body = _show(message)
    if "\n" in body:
        body = "\n" + "\n".join("    " + line for line in body.splitlines())
    sys.stdout.write(f"{stamp} {topic} {body}\n")
    sys.stdout.flush()


def _pub(args: argparse.Namespace) -> int:
    message = _parse_value(args.message) if args.message is not None else None
    broker = _broker(args)
    try:
        handle = broker.publish_message(args.topic, message, retain=args.retain)
        if not handle.wait(args.timeout):
            sys.stderr.write(f"error: the broker did not acknowledge within {args.timeout:g} s\n")
            return 1
    finally:
        broker.shutdown()
    return 0


def _sub(args: argparse.Namespace) -> int:
    broker = _broker(args)
    inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
    try:
        for topic in args.topics:
            broker.subscribe_message(topic, lambda t, m: inbox.put((t, m)))
        seen = 0
        deadline = time.monotonic() + args.timeout if args.timeout else None
        while args.count is None or seen < args.count:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                topic, message = inbox.get(timeout=min(remaining or 1.0, 1.0))
            except queue.Empty:
                continue
            _print_message(topic, message)
            seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        broker.shutdown()
    return 0


def _devices(args: argparse.Namespace) -> int:
    things = _shadows(args).things(args.type)
    rows = [(t.name, t.type, str(t.shadow.get("STATE", "-")), str(t.shadow.get("UUID", "-"))) for t in things]
    rows.sort()
    header = ("NAME", "TYPE", "STATE", "EXPERIMENT")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        sys.stdout.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n"
        )
    return 0


def _state(args: argparse.Namespace) -> int:
    shadows = _shadows(args)
    if args.action == "get":
        shadow = shadows.get_shadow(args.device)
    else:
        changes: dict[str, Any] = {}
        for item in args.assignments:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ConfigError(f"'{item}' is not KEY=VALUE (VALUE is JSON, or a plain string)")
            changes[key] = _parse_value(value)
        shadow = shadows.update_shadow(args.device, changes, remove=args.remove or ())
    sys.stdout.write(json.dumps(shadow, indent=2, sort_keys=True) + "\n")
    return 0


def _send(args: argparse.Namespace) -> int:
    body = _json_object(args.body, "the command body")
    command = args.command.upper()
    sender = args.name or f"cli-{uuid.uuid4().hex[:8]}"
    request = {"COMMAND": f"{command}-REQUEST", "FROM": sender, **body}
    topic = f"telemetry/{args.uuid}/log/{args.device}/{command}/REQUEST"
    broker = _broker(args)
    replies: queue.Queue[tuple[str, Any]] = queue.Queue()
    try:
        broker.subscribe_message(
            f"telemetry/{args.uuid}/log/{args.device}/{command}/+", lambda t, m: replies.put((t, m))
        )
        broker.publish_message(topic, request).wait(args.timeout)
        deadline = time.monotonic() + args.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                sys.stderr.write(f"error: no final reply from {args.device} within {args.timeout:g} s\n")
                return 1
            try:
                reply_topic, message = replies.get(timeout=remaining)
            except queue.Empty:
                continue
            phase = reply_topic.rsplit("/", 1)[1]
            if phase == "REQUEST":
                continue
            _print_message(reply_topic, message)
            if phase in _FINAL_PHASES:
                return 0 if phase in ("COMPLETE", "RESPONSE") else 1
    finally:
        broker.shutdown()


def _queue(args: argparse.Namespace) -> int:
    from braingeneers.iot.redis_queue import queue_keys

    broker = _broker(args)
    try:
        client = broker.redis_client
        items, meta = queue_keys(args.queue)
        if not client.exists(items) and not client.exists(meta):
            sys.stdout.write(f"queue {args.queue!r} does not exist\n")
            return 1
        fields = {_text(k): _text(v) for k, v in client.hgetall(meta).items()}
        ttl = int(client.ttl(meta))
        sys.stdout.write(
            f"queue {args.queue!r}: {int(client.llen(items))} items, maxsize {fields.get('maxsize', '0')} "
            f"(0: unbounded), {fields.get('unfinished', '0')} unfinished tasks, "
            f"expires in {ttl if ttl >= 0 else 'never'} s\n"
        )
    finally:
        broker.shutdown()
    return 0


def _lock(args: argparse.Namespace) -> int:
    from braingeneers.iot.redis_lock import lock_key

    broker = _broker(args)
    try:
        client = broker.redis_client
        key = lock_key(args.lock)
        if not client.exists(key):
            sys.stdout.write(f"lock {args.lock!r} is free\n")
            return 0
        lease = int(client.pttl(key))
        sys.stdout.write(
            f"lock {args.lock!r} is held; lease ends in {lease / 1000:.1f} s\n"
            if lease >= 0
            else f"lock {args.lock!r} is held with no lease (set by a legacy client)\n"
        )
    finally:
        broker.shutdown()
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """Watch and drive lab devices over MQTT, their shadows, and Redis queues and locks."""
    parser.add_argument("--credentials", default=None, help="credentials file (default: core's search order)")
    parser.add_argument(
        "--name", default=None, help="MQTT client name (default: a random, clean-session client)"
    )
    parser.add_argument(
        "--envelope",
        action="store_true",
        help="wrap published messages in the JSON envelope (default: bare JSON, as legacy devices expect)",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    pub = actions.add_parser("pub", help="publish one message")
    pub.add_argument("topic")
    pub.add_argument("message", nargs="?", help="JSON (sent decoded) or any other text (sent as a string)")
    pub.add_argument("--retain", action="store_true", help="ask the broker to retain the message")
    pub.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the broker's ack")
    pub.set_defaults(handler=_pub)

    sub = actions.add_parser("sub", help="print messages on topic filters as they arrive")
    sub.add_argument("topics", nargs="+", metavar="FILTER", help="topic filters, e.g. 'telemetry/+/log/#'")
    sub.add_argument("--count", type=int, default=None, help="exit after this many messages")
    sub.add_argument("--timeout", type=float, default=None, help="exit after this many seconds")
    sub.set_defaults(handler=_sub)

    devices = actions.add_parser("devices", help="list devices (not in the trash) with their state")
    devices.add_argument("--type", default=None, help="BioPlateScope, Autoculture or Other")
    devices.set_defaults(handler=_devices)

    state = actions.add_parser("state", help="show or change a device's shadow")
    state_actions = state.add_subparsers(
        title="state actions", dest="action", metavar="get|set", required=True
    )
    get = state_actions.add_parser("get", help="print the shadow")
    get.add_argument("device")
    get.set_defaults(handler=_state)
    set_ = state_actions.add_parser("set", help="change only the given keys (KEY=VALUE, VALUE JSON or text)")
    set_.add_argument("device")
    set_.add_argument("assignments", nargs="*", metavar="KEY=VALUE")
    set_.add_argument("--remove", action="append", metavar="KEY", help="delete KEY from the shadow")
    set_.set_defaults(handler=_state)

    send = actions.add_parser("send", help="send a command to a device and show its replies")
    send.add_argument("device")
    send.add_argument("command", help="START, END, STOP, PAUSE, RESUME, PING, STATUS, SCHEDULE or a device's")
    send.add_argument("body", nargs="?", help="JSON object merged into the request")
    send.add_argument("--uuid", default="NONE", help="experiment UUID of the topic (default NONE)")
    send.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a final reply")
    send.set_defaults(handler=_send)

    inspect_queue = actions.add_parser("queue", help="show a Redis queue's size, capacity and expiry")
    inspect_queue.add_argument("queue")
    inspect_queue.set_defaults(handler=_queue)

    inspect_lock = actions.add_parser("lock", help="show whether a Redis lock is held and its lease")
    inspect_lock.add_argument("lock")
    inspect_lock.set_defaults(handler=_lock)
