"""Where each value of a JSON document starts, by JSON pointer, so that a problem can
name its line and column. The text must already be valid JSON that ``json.loads`` reads and that
nests at most a few hundred levels (``parse_manifest`` checks both first); for such text it never raises."""

from __future__ import annotations

import re
from json import decoder

scanstring = decoder.scanstring  # type: ignore[attr-defined]  # public since Python 2, not in typeshed

_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|-?Infinity")


def value_positions(text: str) -> dict[str, tuple[int, int]]:
    """Map every JSON pointer of ``text`` to the 1-based ``(line, column)`` of its value.

    An object member's pointer maps to the position of its *key*, which is where
    an editor should jump for "unknown key" and for "wrong value" alike.
    """
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    positions: dict[str, tuple[int, int]] = {}

    def locate(offset: int) -> tuple[int, int]:
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - line_starts[lo] + 1

    def skip(i: int) -> int:
        match = _WS.match(text, i)
        return match.end() if match else i

    def value(i: int, pointer: str) -> int:
        i = skip(i)
        positions.setdefault(pointer, locate(i))
        char = text[i]
        if char == "{":
            i = skip(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                i = skip(i)
                key_at = i
                key, i = scanstring(text, i + 1)
                child = pointer + "/" + key.replace("~", "~0").replace("/", "~1")
                positions[child] = locate(key_at)
                i = skip(i)  # at ':'
                i = value(i + 1, child)
                i = skip(i)
                if text[i] == "}":
                    return i + 1
                i += 1  # ','
        if char == "[":
            i = skip(i + 1)
            if text[i] == "]":
                return i + 1
            index = 0
            while True:
                i = value(i, f"{pointer}/{index}")
                i = skip(i)
                if text[i] == "]":
                    return i + 1
                i += 1
                index += 1
        if char == '"':
            end: int = scanstring(text, i + 1)[1]
            return end
        match = _SCALAR.match(text, i)
        return match.end() if match else i + 1

    if text.strip():
        value(0, "")
    return positions
