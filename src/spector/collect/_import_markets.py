"""Which market imported pages belong to: identified by what the investigator knows.

A host that is already an onion of a stored market is that market (a mirror stays its
market). Otherwise, with ``--market NAME``, every host of the import is one market (its
mirrors), the first market one of them resolved to, or a new one (``spector.store.
market_ref``: a new onion makes a new market even when another bears the same name, so
two clone markets stay two). Without a name each host is its own market, named by the
host. v2 onions are listed among a market's onions like v3 ones, and reported as
historical.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime

from spector.collect._import_urls import host_kind
from spector.model import Capture, Market
from spector.store import Store, market_ref

__all__ = ["ImportedMarket", "MarketBook"]


@dataclass(frozen=True, slots=True)
class ImportedMarket:
    """A market pages were imported for."""

    id: str
    name: str
    ref: str
    family: str | None
    onions: tuple[str, ...]
    historical_onions: tuple[str, ...]  # v2: Tor no longer routes them
    pages: int

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "ref": self.ref,
            "family": self.family,
            "onions": list(self.onions),
            "historical_onions": list(self.historical_onions),
            "pages": self.pages,
        }


@dataclass
class _Entry:
    name: str
    family: str | None
    status: str
    onions: set[str] = field(default_factory=set)
    historical: set[str] = field(default_factory=set)
    pages: int = 0
    first: datetime | None = None  # pages not yet stored
    last: datetime | None = None


class MarketBook:
    """The markets of one import, and the records that store them."""

    def __init__(self, store: Store, name: str | None, template: str | None) -> None:
        self.db = store
        self.name = name.strip() if name else None
        self.template = template
        self.run_ref: str | None = None
        self.host_ref: dict[str, str] = {}
        self.entries: dict[str, _Entry] = {}
        self._saved = self._state()

    def market_for(self, host: str, seen: datetime) -> str:
        """The name of the market the page of ``host`` seen at ``seen`` belongs to."""
        kind = host_kind(host)
        ref = self.host_ref.get(host) or self._resolve(host, kind.onion)
        self.host_ref[host] = ref
        entry = self._entry(ref, host)
        if kind.onion:
            entry.onions.add(kind.onion)
            if kind.historical:
                entry.historical.add(kind.onion)
        entry.pages += 1
        entry.first = min(entry.first or seen, seen)
        entry.last = max(entry.last or seen, seen)
        return entry.name

    def _resolve(self, host: str, onion: str | None) -> str:
        onions = [onion] if onion else []
        if self.name is None:
            return market_ref(self.db, name=host, onions=onions)
        known = self._stored_ref(onion) if onion else None
        if known is not None:
            self.run_ref = self.run_ref or known
            return known
        if self.run_ref is None:
            self.run_ref = market_ref(self.db, name=self.name, onions=onions)
        return self.run_ref

    def _stored_ref(self, onion: str) -> str | None:
        row = self.db.con.execute(
            "SELECT coalesce(ref, 'name:' || name) FROM markets WHERE list_has(onions, ?) "
            "ORDER BY first_seen, id LIMIT 1",
            [onion],
        ).fetchone()
        return str(row[0]) if row else None

    def _entry(self, ref: str, host: str) -> _Entry:
        if ref in self.entries:
            return self.entries[ref]
        row = self.db.con.execute(
            "SELECT name, family, status FROM markets WHERE coalesce(ref, 'name:' || name) = ? "
            "ORDER BY last_seen DESC LIMIT 1",
            [ref],
        ).fetchone()
        if row is None:
            entry = _Entry(self.name or host, self.template, "unknown")
        else:
            name = self.name if self.name is not None and ref == self.run_ref else str(row[0])
            entry = _Entry(name, self.template or row[1], str(row[2] or "unknown"))
        self.entries[ref] = entry
        return entry

    def store(self, captures: list[Capture], *, source: str) -> None:
        """Store the markets pages were found for since the last commit, then
        ``captures`` (one transaction each; a market is stored before its pages)."""
        for ref, entry in self.entries.items():
            if entry.first is None or entry.last is None:
                continue
            market = Market(
                name=entry.name,
                family=entry.family,
                onions=tuple(sorted(entry.onions)),
                status=entry.status,
                ref=ref,
            )
            self.db.upsert([market], source=source, seen_at=entry.last)
            if entry.first < entry.last:
                self.db.upsert([market], source=source, seen_at=entry.first)
        self.db.upsert(captures, source=source)

    def commit(self) -> None:
        for entry in self.entries.values():
            entry.first = entry.last = None
        self._saved = self._state()

    def forget(self) -> None:
        """Back to the last commit (the pages since were not stored)."""
        self.run_ref, self.host_ref, self.entries = copy.deepcopy(self._saved)

    def _state(self) -> tuple[str | None, dict[str, str], dict[str, _Entry]]:
        return copy.deepcopy((self.run_ref, self.host_ref, self.entries))

    def summary(self) -> list[ImportedMarket]:
        """Each market pages were imported for."""
        return [
            ImportedMarket(
                id=Market(name=entry.name, ref=ref).id,
                name=entry.name,
                ref=ref,
                family=entry.family,
                onions=tuple(sorted(entry.onions)),
                historical_onions=tuple(sorted(entry.historical)),
                pages=entry.pages,
            )
            for ref, entry in sorted(self.entries.items())
            if entry.pages
        ]
