"""Text perturbations that need no model or download: typos, case, whitespace, contractions.

As HELM's robustness perturbations (``docs/perturbations.md``), each applied to one text with the
example's generator (:mod:`.seeding`):

* ``typos``: each letter, with probability ``TYPO_RATE[s - 1]``, becomes a neighbour on a QWERTY
  keyboard, is swapped with the next character, or is dropped (one of the three, equally likely);
* ``random_case``: each letter's case flipped with probability ``CASE_RATE[s - 1]``;
* ``extra_whitespace``: after each space, with probability ``SPACE_RATE[s - 1]``, 1 to 3 spaces more;
* ``lowercase``, ``uppercase``, ``contractions`` (``do not`` -> ``don't``, ...): no draw, no
  severity (declare severity 1).

The draws are made in a fixed order over the text's characters, so one seed gives the same choice
at each position whatever the severity; a higher severity perturbs a superset of the positions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...core.errors import PerturbationError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SEVERITY_FREE", "TEXT_PERTURBATIONS", "perturb_text"]

TYPO_RATE = (0.02, 0.05, 0.1, 0.15, 0.2)
CASE_RATE = (0.05, 0.1, 0.2, 0.35, 0.5)
SPACE_RATE = (0.1, 0.2, 0.35, 0.5, 0.75)

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
#: each letter's neighbours on a QWERTY keyboard (same row and the rows above and below)
NEIGHBOURS: dict[str, str] = {}
for _r, _keys in enumerate(_ROWS):
    for _c, _key in enumerate(_keys):
        _near = [_keys[i] for i in (_c - 1, _c + 1) if 0 <= i < len(_keys)]
        for _other in (_r - 1, _r + 1):
            if 0 <= _other < len(_ROWS):
                _near += [_ROWS[_other][i] for i in (_c - 1, _c, _c + 1) if 0 <= i < len(_ROWS[_other])]
        NEIGHBOURS[_key] = "".join(_near)

CONTRACTIONS = {"do not": "don't", "does not": "doesn't", "did not": "didn't", "is not": "isn't",
                "are not": "aren't", "was not": "wasn't", "were not": "weren't", "have not": "haven't",
                "has not": "hasn't", "had not": "hadn't", "will not": "won't", "would not": "wouldn't",
                "can not": "can't", "cannot": "can't", "could not": "couldn't", "should not": "shouldn't",
                "I am": "I'm", "you are": "you're", "we are": "we're", "they are": "they're", "it is": "it's",
                "that is": "that's", "there is": "there's", "I will": "I'll", "I have": "I've", "let us": "let's"}
_CONTRACT = re.compile(r"\b(" + "|".join(sorted(map(re.escape, CONTRACTIONS), key=len, reverse=True)) + r")\b",
                       re.IGNORECASE)


def _rate(table: tuple[float, ...], severity: int) -> float:
    if severity not in (1, 2, 3, 4, 5):
        raise PerturbationError(f"severity {severity!r}: severities are 1 to 5")
    return table[severity - 1]


def typos(text: str, severity: int, rng: np.random.RandomState) -> str:
    rate = _rate(TYPO_RATE, severity)
    chars = list(text)
    draws = rng.random_sample((len(chars), 3))  # hit, which typo, which neighbour: fixed per position
    out: list[str] = []
    i = 0
    while i < len(chars):
        char = chars[i]
        hit, kind, pick = draws[i]
        if not char.isalpha() or hit >= rate:
            out.append(char)
            i += 1
            continue
        if kind < 1 / 3 and char.lower() in NEIGHBOURS:
            near = NEIGHBOURS[char.lower()]
            new = near[int(pick * len(near))]
            out.append(new.upper() if char.isupper() else new)
        elif kind < 2 / 3 and i + 1 < len(chars):
            out += [chars[i + 1], char]
            i += 1
        # else: dropped
        i += 1
    return "".join(out)


def random_case(text: str, severity: int, rng: np.random.RandomState) -> str:
    rate = _rate(CASE_RATE, severity)
    draws = rng.random_sample(len(text))
    return "".join(c.swapcase() if c.isalpha() and d < rate else c for c, d in zip(text, draws))


def extra_whitespace(text: str, severity: int, rng: np.random.RandomState) -> str:
    rate = _rate(SPACE_RATE, severity)
    draws = rng.random_sample((len(text), 2))
    return "".join(c + " " * (1 + int(extra * 3)) if c == " " and hit < rate else c
                   for c, (hit, extra) in zip(text, draws))


def contractions(text: str, severity: int, rng: np.random.RandomState) -> str:
    def contract(match: re.Match[str]) -> str:
        found = match.group(0)
        short = next(v for k, v in CONTRACTIONS.items() if k.lower() == found.lower())
        return short[0].upper() + short[1:] if found[0].isupper() else short

    return _CONTRACT.sub(contract, text)


def lowercase(text: str, severity: int, rng: np.random.RandomState) -> str:
    return text.lower()


def uppercase(text: str, severity: int, rng: np.random.RandomState) -> str:
    return text.upper()


TEXT_PERTURBATIONS: dict[str, Callable[[str, int, Any], str]] = {
    "typos": typos, "random_case": random_case, "extra_whitespace": extra_whitespace,
    "contractions": contractions, "lowercase": lowercase, "uppercase": uppercase}
#: the text perturbations without a severity (only severity 1 is accepted)
SEVERITY_FREE = frozenset({"contractions", "lowercase", "uppercase"})


def perturb_text(text: str, name: str, severity: int, rng: np.random.RandomState) -> str:
    """``text`` perturbed by ``name`` at ``severity`` (module docstring)."""
    if name not in TEXT_PERTURBATIONS:
        raise PerturbationError(f"unknown text perturbation {name!r}; known: {', '.join(TEXT_PERTURBATIONS)}")
    return TEXT_PERTURBATIONS[name](text, severity, rng)
