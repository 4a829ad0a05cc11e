"""
JSON as wsroute speaks it: standard JSON only, compact, in UTF-8.

:func:`json.loads` accepts ``NaN`` and ``Infinity``, which aren't JSON, and
:func:`json.dumps` writes them; both build a new decoder or encoder on every
call that passes options. This module builds them once.

"""

from __future__ import annotations

import json
import math
from typing import Any

from websockets.typing import Data

__all__ = ["decode", "encode"]


def refuse_constant(name: str) -> Any:
    """Refuse ``NaN``, ``Infinity`` and ``-Infinity``, which aren't JSON."""
    raise ValueError(f"{name} isn't allowed in JSON")


def finite_float(text: str) -> float:
    """Decode a number, refusing one too large for a float, such as ``1e400``."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is too large")
    return value


DECODER = json.JSONDecoder(parse_constant=refuse_constant, parse_float=finite_float)
ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
ASCII_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def decode(data: Data) -> Any:
    """
    Decode standard JSON from text, or from bytes in UTF-8, UTF-16 or UTF-32.

    Numbers too large for a float, which would become infinities, are
    refused like ``Infinity``.

    Raises:
        ValueError: If ``data`` isn't JSON, or its bytes aren't text.
        RecursionError: If ``data`` nests too deeply to decode.

    """
    if not isinstance(data, str):
        data = bytes(data)
        data = data.decode(json.detect_encoding(data), "surrogatepass")
    return DECODER.decode(data)


def encode(value: Any) -> bytes:
    r"""
    Encode a value to compact JSON in UTF-8.

    Strings that UTF-8 can't encode, such as a lone surrogate that a client
    sent as ``"\ud800"``, are written as ``\u`` escapes.

    Raises:
        TypeError: If ``value`` holds something JSON can't represent.
        ValueError: If ``value`` holds NaN or an infinity.

    """
    try:
        return ENCODER.encode(value).encode()
    except UnicodeEncodeError:
        return ASCII_ENCODER.encode(value).encode()
