"""How well the selector scanner reads a set of annotated texts: precision and recall.

An annotated corpus is a folder of texts (``*.html``, ``*.htm``, ``*.txt``), each with a
sidecar ``NAME.expected.json`` written by a person::

    {"about": "what the text is and what it tests",
     "selectors": [{"kind": "telegram", "value": "green_shop24"}, ...]}

Values are written in their kind's normal form (what ``spector selectors check`` prints).
Each text is scanned, and its distinct (kind, value) finds are compared with its
expected set: a find in the set is a true positive, a find not in it a false positive,
an expected value not found a false negative. Figures are per kind and overall, with
the counts behind them and every miss named.

Contract: ``load_corpus`` raises ``InputError`` naming the file and the field for a bad
sidecar (unknown keys name the closest known key; values must be valid for their kind);
``measure`` never raises.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from spector.errors import InputError, SelectorInvalid, UsageError
from spector.extract._selectors import Found, read_text, scan_text
from spector.model import selector_kind

__all__ = ["Document", "KindScore", "SelectorScore", "load_corpus", "measure"]

TEXT_SUFFIXES = (".html", ".htm", ".txt")
SIDECAR = ".expected.json"


@dataclass(frozen=True, slots=True)
class Document:
    """One text and the selectors a person says it holds."""

    name: str
    text: str
    expected: frozenset[tuple[str, str]]  # (kind, normalised value)


@dataclass(slots=True)
class KindScore:
    """Counts for one kind (or all): true positives, false positives, false negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing was reported."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 when nothing was expected."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
        }


@dataclass(slots=True)
class SelectorScore:
    """Figures over a set of documents, per kind and overall, with every miss."""

    documents: int = 0
    by_kind: dict[str, KindScore] = field(default_factory=dict)
    total: KindScore = field(default_factory=KindScore)
    spurious: list[tuple[str, str, str]] = field(default_factory=list)  # (doc, kind, value)
    missed: list[tuple[str, str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "documents": self.documents,
            "total": self.total.as_dict(),
            "by_kind": {k: v.as_dict() for k, v in sorted(self.by_kind.items())},
            "spurious": [list(x) for x in self.spurious],
            "missed": [list(x) for x in self.missed],
        }


class _Expected(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    value: str


class _Sidecar(BaseModel):
    model_config = ConfigDict(extra="forbid")
    about: str = ""
    selectors: list[_Expected]


def load_corpus(folder: Path) -> list[Document]:
    """Every annotated text in ``folder`` (sorted by name); a text without a sidecar is an
    error, so that an unannotated text is never scored as 'holds nothing'."""
    if not folder.is_dir():
        raise InputError("not a folder of annotated texts", where=folder)
    texts = sorted(p for p in folder.iterdir() if p.suffix.lower() in TEXT_SUFFIXES)
    if not texts:
        raise InputError("no texts (*.html, *.htm, *.txt) to score", where=folder)
    return [_document(path) for path in texts]


def _document(path: Path) -> Document:
    sidecar = path.with_name(path.name + SIDECAR)
    try:
        raw = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no annotation {sidecar.name} beside it", where=path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"unreadable annotation: {exc}", where=sidecar) from exc
    try:
        parsed = _Sidecar.model_validate(raw)
    except ValidationError as exc:
        raise InputError(_explain(exc), where=sidecar) from None
    expected = set()
    for i, item in enumerate(parsed.selectors):
        try:
            value = selector_kind(item.kind).normalise(item.value)
        except UsageError as exc:
            raise InputError(f"selectors[{i}].kind: {exc}", where=sidecar) from None
        except SelectorInvalid as exc:
            raise InputError(f"selectors[{i}].value: {exc}", where=sidecar) from None
        if value != item.value:
            raise InputError(
                f"selectors[{i}].value {item.value!r} is not in normal form",
                where=sidecar,
                expected=repr(value),
            )
        expected.add((item.kind, value))
    return Document(path.name, read_text(path.read_bytes()), frozenset(expected))


def _explain(exc: ValidationError) -> str:
    errors = exc.errors()
    # An unknown key explains a missing one ("selector" for "selectors"): name it first.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    where = ".".join(str(x) for x in first["loc"])
    if first["type"] == "extra_forbidden":
        known = ["about", "selectors"] if len(first["loc"]) == 1 else ["kind", "value"]
        close = difflib.get_close_matches(str(first["loc"][-1]), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
        return f"unknown key {where}{hint}"
    return f"{where}: {first['msg']}"


def measure(
    documents: Iterable[Document], scan: Callable[[str], Sequence[Found]] = scan_text
) -> SelectorScore:
    """Score ``scan`` on ``documents``: per document, distinct finds against expected."""
    score = SelectorScore()
    for doc in documents:
        score.documents += 1
        found = {(f.kind, f.value) for f in scan(doc.text)}
        for kind, value in found | doc.expected:
            counts = score.by_kind.setdefault(kind, KindScore())
            if (kind, value) in found and (kind, value) in doc.expected:
                counts.tp += 1
                score.total.tp += 1
            elif (kind, value) in found:
                counts.fp += 1
                score.total.fp += 1
                score.spurious.append((doc.name, kind, value))
            else:
                counts.fn += 1
                score.total.fn += 1
                score.missed.append((doc.name, kind, value))
    score.spurious.sort()
    score.missed.sort()
    return score
