"""The selector-kind protocol and its registry.

A selector is a value that points at a person or wallet across sources: a PGP
fingerprint, a crypto address, an onion, a contact handle. Each kind knows how to
normalise, validate and compare its own values; everything else asks it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from spector.errors import SelectorInvalid, UsageError

__all__ = ["SelectorKind", "all_selector_kinds", "register", "selector_kind"]


class SelectorKind(ABC):
    """One kind of selector value.

    Contract: ``normalise`` returns the canonical form or raises ``SelectorInvalid``
    naming the reason; it is idempotent (``normalise(normalise(x)) == normalise(x)``).
    ``validate`` never raises. ``compare`` returns 1.0 for the same selector, 0.0 for
    different ones (kinds with partial matches return values in between).

    ``historical`` marks a kind whose values can no longer be used live (a v2 onion: Tor
    stopped routing them in 2021) but still identify someone in old captures and dumps;
    ``note`` says why, for listings.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    historical: ClassVar[bool] = False
    note: ClassVar[str] = ""

    @abstractmethod
    def normalise(self, raw: str) -> str:
        """The canonical form of ``raw``; raises SelectorInvalid if it is not valid."""

    def validate(self, raw: str) -> bool:
        """Whether ``raw`` is a valid value of this kind."""
        try:
            self.normalise(raw)
        except SelectorInvalid:
            return False
        return True

    def compare(self, left: str, right: str) -> float:
        """Similarity of two values of this kind, 0.0 to 1.0."""
        try:
            return 1.0 if self.normalise(left) == self.normalise(right) else 0.0
        except SelectorInvalid:
            return 0.0

    def invalid(self, raw: str, reason: str) -> SelectorInvalid:
        return SelectorInvalid(self.name, raw, reason)


_REGISTRY: dict[str, SelectorKind] = {}


def register(kind: SelectorKind) -> SelectorKind:
    """Add ``kind`` to the registry under its name (once)."""
    _builtin_kinds()
    if kind.name in _REGISTRY:
        raise ValueError(f"selector kind {kind.name!r} registered twice")
    _REGISTRY[kind.name] = kind
    return kind


def _builtin_kinds() -> None:
    """Import the modules that register the built-in kinds, once, before any kind is
    looked up or added (the package imports its modules lazily)."""
    if not _BUILTIN:
        _BUILTIN.append(True)
        import spector.model._contact_kinds
        import spector.model._crypto_kinds  # noqa: F401


_BUILTIN: list[bool] = []


def selector_kind(name: str) -> SelectorKind:
    """The registered kind called ``name``; a UsageError lists the known names."""
    _builtin_kinds()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UsageError(f"unknown selector kind {name!r}", expected=f"one of {known}") from None


def all_selector_kinds() -> tuple[SelectorKind, ...]:
    """Every registered kind, sorted by name."""
    _builtin_kinds()
    return tuple(_REGISTRY[n] for n in sorted(_REGISTRY))
