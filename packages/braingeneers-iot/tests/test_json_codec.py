"""json_codec reads and writes exactly what the standard json module does, whichever library works."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from braingeneers.iot import json_codec
from braingeneers.iot.envelope import decode, encode

PAD = "p" * 300  # makes a document long enough for the orjson path of loads

LOADS_CASES = [
    # integers beyond 64 bits, which orjson alone reads as floats, in every kind of place
    {"pad": PAD, "big": 2**64, "neg": -(2**63) - 1, "huge": 10**30},
    {"pad": PAD, "values": [1.5] * 20 + [2**70]},  # a long list of numbers
    {"pad": PAD, "values": [2**70] + [1.5] * 20},
    {"pad": PAD, "mixed": ["a"] * 20 + [2**70]},  # a long list of strings and one number
    {"pad": PAD, "nested": [[{"deep": [-(2**80)]}]]},
    [PAD, 18446744073709551615, -9223372036854775808],  # the 64-bit extremes orjson keeps exact
    {"pad": PAD, "floats": [1e300, -1e300, 9.3e18], "edge": 2.0**63},
    {"pad": PAD, "words": ["w"] * 40, "numbers": list(range(40)), "flags": [True, False] * 10},
    {"pad": PAD, "empty": [], "none": None, "nested_empty": [[], {}]},
    {"pad": PAD + 'ü✓ \u2028 "quoted" \\'},
]


@pytest.mark.parametrize("value", LOADS_CASES)
def test_loads_matches_json_loads(value: Any) -> None:
    text = json.dumps(value).encode()
    assert len(text) >= 256
    loaded = json_codec.loads(text)
    assert loaded == json.loads(text)
    assert repr(loaded) == repr(json.loads(text))  # same types too: 2**70 stays an int


@pytest.mark.parametrize(
    "text",
    [
        b'{"pad": "%s", "x": NaN, "y": -Infinity}',  # json accepts these; orjson does not
        b'{"pad": "%s", "s": "\\ud800"}',  # a lone surrogate escape
        b'  \r\n{"pad": "%s"}\n\t ',  # whitespace around the value
    ],
)
def test_loads_accepts_what_json_accepts(text: bytes) -> None:
    text = text.replace(b"%s", PAD.encode())
    loaded = json_codec.loads(text)
    expected = json.loads(text)
    assert loaded.keys() == expected.keys()
    assert repr(loaded) == repr(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"pad": "%s"} trailing', "extra data"),
        (b'{"pad": "%s",}', "Expecting property name"),
        (b'{"pad": "%s\xff"}', "can't decode byte 0xff"),  # not UTF-8
        (b"[" * 100_000, "nested too deeply"),  # deeper than either parser goes
        (b"", "not JSON text"),
        (b"   ", "not JSON text"),
    ],
)
def test_loads_refuses_what_json_refuses_with_value_error(text: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        json_codec.loads(text.replace(b"%s", PAD.encode()))


def test_deeply_nested_payload_is_text_not_a_crash() -> None:
    # json alone raises RecursionError here, which would escape paho's network thread
    assert decode(b"[" * 100_000).body == "[" * 100_000
    assert decode(b'{"a":' * 50_000).body == '{"a":' * 50_000


LONG = "q" * 5000  # makes the output long enough for dumps to walk containers instead of searching text

DUMPS_CASES = [
    [1.5] * 300 + [None, LONG],  # past the walk budget: None found by searching the text
    [[1.5, None]] * 300 + [LONG],
    (LONG, *[0.25] * 50),
    [LONG, *[0.25] * 50, None],  # a long list of numbers but for None
    {"rows": [{"ch": i, "amp": -3.5, "label": None if i == 70 else LONG} for i in range(100)]},
    {"pad": LONG, "t": 1.25, "n": None},
    {"pad": LONG, "values": [*range(50), 1e308, 1e308]},  # a sum that overflows, values that do not
    ["null"] * 2000,
    [LONG, True, False, 0, -0.0, 1e-300] * 10,
    {"pad": PAD, "short": [None, 1.5]},  # short output: searched for null
]


@pytest.mark.parametrize("value", DUMPS_CASES)
def test_dumps_writes_what_json_writes(value: Any) -> None:
    out = json_codec.dumps(value)
    assert json.loads(out) == json.loads(json.dumps(value))
    assert repr(json.loads(out)) == repr(json.loads(json.dumps(value)))


@pytest.mark.parametrize(
    "value",
    [
        {"pad": LONG, "values": [1.5] * 20 + [math.inf]},  # a long list of numbers
        [math.nan] + [1.5] * 20 + [LONG],
        [1.5] * 2000 + [-math.inf],  # long output of numbers only
        {"pad": LONG, "rows": [{"t": 1.0}] * 300 + [{"t": -math.inf}]},  # past the walk budget
        (LONG, 1.0, math.nan),
        {"pad": PAD, "short": [math.nan]},  # short output: searched for null
    ],
)
def test_dumps_refuses_nan_and_infinity_anywhere(value: Any) -> None:
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        json_codec.dumps(value)


def test_envelope_keeps_big_integers_exact_in_large_messages() -> None:
    body = {"pad": PAD, "counts": [2**70, 3], "id": 123456789012345678901234567890}
    decoded = decode(encode(body, "me")[1])
    assert decoded.body == body
    assert type(decoded.body["id"]) is int
