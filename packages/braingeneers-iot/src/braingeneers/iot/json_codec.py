"""JSON as the standard library writes and reads it, at orjson's speed where the two agree.

orjson writes and parses a 100 kB string many times faster than ``json``, but it
differs on a few inputs:

* writing, it renders NaN and infinities as ``null`` (:func:`dumps` refuses them, as
  ``json.dumps(..., allow_nan=False)`` does) and refuses integers beyond 64 bits,
  non-string keys, subclasses of built-in types, datetimes, dataclasses and lone
  surrogates;
* reading, it reads an integer literal beyond 64 bits as a ``float`` and refuses
  ``NaN``/``Infinity``, lone surrogate escapes and nesting deeper than 1024.

Wherever orjson could differ, these functions hand the value to ``json``, so what is
accepted and what it decodes to never depend on which library did the work. Deciding
that costs a walk over the containers of the value (not over the characters of its
strings), so a large string body costs what orjson costs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["dumps", "loads"]

_json_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
# The C scanner behind json.loads: (value, end index) of the JSON text starting at an index.
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_ORJSON_STRICT = (  # hand these to json instead of orjson's own rendering (see dumps)
    orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
_SMALL_DATA = 256  # shorter JSON text is parsed by json: quicker than orjson plus the walk
_SMALL_TEXT = 4096  # shorter output is searched for null, longer has its containers walked
_WALK_BUDGET = 256  # container items _may_hold_nan walks before it searches the bytes instead
_LONG = 16  # lists at least this long are first checked as a whole (all numbers / all strings)
_BIG = 2.0**63  # orjson's reading of an integer beyond 64 bits is a float at least this large
_WHITESPACE = " \t\n\r"


def dumps(value: Any) -> bytes:
    """Return ``value`` as compact UTF-8 JSON that reads back as ``json.dumps``'s text would.

    Only the spelling of some numbers can differ (orjson writes ``1e16`` where ``json``
    writes ``1e+16``); what is accepted, what is refused and every decoded value are
    those of ``json.dumps(value, allow_nan=False)``.

    Parameters
    ----------
    value
        Any value ``json.dumps`` accepts.

    Raises
    ------
    TypeError
        ``value`` holds something JSON cannot represent.
    ValueError
        ``value`` holds NaN or an infinity, or a string with a lone surrogate.
    """
    try:
        out = orjson.dumps(value, option=_ORJSON_STRICT)
    except TypeError:  # orjson.JSONEncodeError: json decides (and raises if it refuses too)
        return _json_dumps(value).encode("utf-8")
    # orjson writes NaN and infinities as null: short output is searched for it (a None
    # matches too, harmlessly), long output has its containers walked for such floats.
    if type(value) is not str and (b"null" in out if len(out) < _SMALL_TEXT else _may_hold_nan(value, out)):
        return _json_dumps(value).encode("utf-8")
    return out


def loads(data: bytes) -> Any:
    """Parse UTF-8 JSON text as ``json.loads`` would.

    Integers of any size stay exact ``int``; ``NaN``, ``Infinity`` and lone surrogate
    escapes are accepted, as ``json`` accepts them.

    Raises
    ------
    ValueError
        ``data`` is not UTF-8, not JSON, has text after the value, or nests too deeply
        to parse.
    """
    if len(data) >= _SMALL_DATA:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            if not _may_hold_big_int(value):
                return value
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration:  # how the scanner says "no JSON value here"
        raise ValueError("not JSON text") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply to parse") from None
    if end != len(text) and text[end:].strip(_WHITESPACE):
        raise ValueError("extra data after the JSON value")
    return value


def _may_hold_nan(value: Any, out: bytes) -> bool:
    """Whether ``value`` may hold a NaN or an infinity, which orjson wrote into ``out`` as ``null``.

    Walks the containers (cheap while they are few, however long their strings); past
    ``_WALK_BUDGET`` items it searches ``out`` for ``null`` instead (cheap per byte, and
    only ever too cautious: a ``None`` also reads ``null``).
    """
    stack, budget = [value], _WALK_BUDGET
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict or kind is list or kind is tuple:
            items = item.values() if kind is dict else item
            if len(items) >= _LONG and kind is not dict and type(item[0]) in (float, int):
                try:  # only numbers: a NaN or infinity makes their sum one too
                    if not math.isfinite(sum(items)):
                        return True
                    continue
                except TypeError:  # not only numbers
                    pass
            budget -= len(items)
            if budget < 0:
                return b"null" in out
            stack.extend(items)
        elif kind is float and not math.isfinite(item):
            return True
    return False


def _may_hold_big_int(value: Any) -> bool:
    """Whether ``value`` from ``orjson.loads`` holds a number of magnitude 2**63 or more.

    orjson reads an integer literal beyond 64 bits as a float, and such a float is at
    least that large; :func:`loads` then parses with ``json`` instead.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            if len(item) >= _LONG:
                first = type(item[0])
                try:
                    if first is float or first is int:  # only numbers: their extremes decide
                        if not (min(item) > -_BIG and max(item) < _BIG):
                            return True
                        continue
                    if first is str:
                        "".join(item)  # only strings: nothing to look at
                        continue
                except TypeError:  # a mixed list: look at each item
                    pass
            stack.extend(item)
        elif kind is float and not -_BIG < item < _BIG:
            return True
    return False
