"""Which market a site or an import is: by its onion addresses, else by the name given."""

from __future__ import annotations

from collections.abc import Iterable

from spector.store._store import Store

__all__ = ["market_ref"]


def market_ref(store: Store, *, name: str, onions: Iterable[str] = ()) -> str:
    """The ``ref`` (identity, see ``spector.model.Market``) of the market that ``onions``
    or ``name`` denote, given what the store already knows.

    A market is the one that already answers on any of ``onions`` (a mirror of a known
    market stays that market); else, for a site with onions, a new one named by its first
    onion; else the one stored under exactly ``name`` when there is only one (a later
    import of the same market by name); else a new market known by that name. Two markets
    that share a name but not an onion stay two."""
    hosts = list(dict.fromkeys(onions))
    if hosts:
        row = store.con.execute(
            "SELECT coalesce(ref, 'name:' || name) FROM markets "
            "WHERE list_has_any(onions, ?::VARCHAR[]) ORDER BY first_seen, id LIMIT 1",
            [hosts],
        ).fetchone()
        return str(row[0]) if row else f"onion:{hosts[0]}"
    rows = store.con.execute(
        "SELECT DISTINCT coalesce(ref, 'name:' || name) FROM markets WHERE name = ?", [name]
    ).fetchall()
    return str(rows[0][0]) if len(rows) == 1 else f"name:{name}"
