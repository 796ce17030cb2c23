"""Change heuristics: which output of a transaction went back to whoever paid it.

``change_outputs(con, heuristic)`` names, per transaction, the output one heuristic
judges to be the change; clustering merges it with the inputs' cluster when the analyst
switches that heuristic on. Every heuristic names at most one output per transaction,
and judges no coinbase, no transaction ``detect_mixing`` flags (a CoinJoin's or the
mixer's outputs are not its inputs' owner's), no transaction with fewer than two
outputs, and none that pays one of its own input addresses (self-change: the change is
known, nothing to guess). OP_RETURN outputs are not outputs here; an output without an
address (P2PK, bare multisig) is never named, though it still counts as a candidate, so
a transaction where it ties with another output names nothing.

The heuristics (``CHANGE_HEURISTICS``):

``one_time_change``
    Meiklejohn et al.'s "shadow" change: the only output address never paid before this
    transaction (in chain order: height, then position in the block), where every other
    output's address had been paid before. Transactions with an address-less output are
    not judged (whether it was seen before is unknown).
``address_type``
    Every input of one script type, and exactly one output of that type (wallets send
    change to their own kind of address; the payee's may differ).
``round_value``
    Two outputs, exactly one of them a round amount, meaning a multiple of 10^5 sat
    (0.001 BTC: prices and payments in BTC are quoted that way; a change amount ends in
    five zeros about once in 100,000). The other output is the change. Round amounts in
    a fiat currency (a payment of exactly 50 USD) are out of scope: they need the day's
    exchange rate.
``peel_chain``
    A transaction with one or two inputs and two outputs, exactly one of which is spent
    (at any later height) by a transaction of the same shape: that output is the
    change, the next link of the peel chain.
``fingerprint``
    Wallet fingerprints: the output whose spending transaction has the same version,
    the same locktime style (0, a block height, or a timestamp) and the same set of
    input script types as this transaction, when exactly one output's spender does
    (unspent outputs never match).

Every heuristic is set-based SQL over the views txs, inputs and outputs (after
``ChainStore.refresh_views``); pure: nothing is written.
"""

from __future__ import annotations

import difflib

import duckdb
import pyarrow as pa

from spector.chain._coinjoin import _bounds, _height_scope, _Registered, detect_mixing, settle
from spector.errors import UsageError

__all__ = ["CHANGE_HEURISTICS", "ROUND_UNIT", "change_outputs"]

CHANGE_HEURISTICS = ("one_time_change", "address_type", "round_value", "peel_chain", "fingerprint")
ROUND_UNIT = 100_000  # sat: a round payment is a multiple of 0.001 BTC
_KEY = 1 << 24  # (height, index in block) as one number: height * _KEY + idx

SCHEMA = pa.schema(
    [
        ("txid", pa.string()),
        ("height", pa.int64()),
        ("vout", pa.int64()),
        ("address", pa.string()),
        ("heuristic", pa.string()),
    ]
)

# {scope}: the judged heights; {mixing}: detect_mixing's rows for them.
_BASE = """
WITH
t AS MATERIALIZED (
    SELECT txid, height, idx, version, locktime, input_count AS n_in,
           output_count AS n_out_all
    FROM txs
    WHERE NOT coinbase AND {scope} AND txid NOT IN (SELECT txid FROM {mixing})
),
o AS MATERIALIZED (
    SELECT txid, height, vout, value, script_type, address FROM outputs
    WHERE {scope} AND script_type <> 'nulldata' AND txid IN (SELECT txid FROM t)
),
i AS MATERIALIZED (
    SELECT txid, address, script_type FROM inputs
    WHERE {scope} AND NOT coinbase AND txid IN (SELECT txid FROM t)
),
self_paid AS (
    SELECT DISTINCT o.txid FROM o JOIN i ON i.txid = o.txid AND i.address = o.address
),
e AS MATERIALIZED (
    SELECT t.*, c.n_out, c.no_address FROM t
    JOIN (
        SELECT txid, count(*) AS n_out, count(*) FILTER (WHERE address IS NULL) AS no_address
        FROM o GROUP BY txid
    ) c ON c.txid = t.txid
    WHERE c.n_out >= 2 AND t.txid NOT IN (SELECT txid FROM self_paid)
),
eo AS MATERIALIZED (SELECT * FROM o WHERE txid IN (SELECT txid FROM e)),
cand AS ({candidates}),
single AS (SELECT txid FROM cand GROUP BY txid HAVING count(*) = 1)
SELECT eo.txid, eo.height, eo.vout, eo.address, '{name}' AS heuristic
FROM eo JOIN cand ON cand.txid = eo.txid AND cand.vout = eo.vout
WHERE eo.txid IN (SELECT txid FROM single) AND eo.address IS NOT NULL
"""

_ONE_TIME = f"""
    WITH first_paid AS (
        SELECT p.address, min(p.height * {_KEY} + x.idx) AS first_key
        FROM outputs p JOIN txs x ON x.txid = p.txid AND x.height = p.height
        WHERE p.address IN (SELECT address FROM eo) AND p.height <= {{hi}}
        GROUP BY p.address
    ),
    judged AS (SELECT txid, height * {_KEY} + idx AS key FROM e WHERE no_address = 0)
    SELECT eo.txid, eo.vout
    FROM eo JOIN judged j ON j.txid = eo.txid
    JOIN first_paid f ON f.address = eo.address
    WHERE f.first_key = j.key
"""

_ADDRESS_TYPE = """
    WITH one_type AS (
        SELECT txid, min(script_type) AS script_type FROM i GROUP BY txid
        HAVING count(DISTINCT script_type) = 1 AND count(script_type) = count(*)
    )
    SELECT eo.txid, eo.vout FROM eo
    JOIN one_type u ON u.txid = eo.txid AND u.script_type = eo.script_type
"""

_ROUND_VALUE = f"""
    WITH pairs AS (
        SELECT eo.txid FROM eo JOIN e ON e.txid = eo.txid WHERE e.n_out = 2
        GROUP BY eo.txid HAVING count(*) FILTER (WHERE eo.value % {ROUND_UNIT} = 0) = 1
    )
    SELECT txid, vout FROM eo
    WHERE txid IN (SELECT txid FROM pairs) AND value % {ROUND_UNIT} <> 0
"""

_PEEL_CHAIN = """
    WITH links AS (
        SELECT txid FROM e WHERE n_in IN (1, 2) AND n_out_all = 2 AND n_out = 2
    )
    SELECT DISTINCT s.prev_txid AS txid, s.prev_vout AS vout
    FROM inputs s JOIN txs n ON n.txid = s.txid AND n.height = s.height
    WHERE s.prev_txid IN (SELECT txid FROM links) AND s.height >= {lo}
      AND s.prev_height BETWEEN {lo} AND {hi} AND NOT s.coinbase
      AND n.input_count IN (1, 2) AND n.output_count = 2
"""

_FINGERPRINT = """
    WITH spend AS (
        SELECT s.prev_txid AS txid, s.prev_vout AS vout, s.txid AS next_txid,
               s.height AS next_height
        FROM inputs s
        WHERE s.prev_txid IN (SELECT txid FROM e) AND s.height >= {lo}
          AND s.prev_height BETWEEN {lo} AND {hi} AND NOT s.coinbase
    ),
    input_types AS (
        SELECT txid, string_agg(DISTINCT script_type, ',' ORDER BY script_type) AS types
        FROM inputs
        WHERE height >= {lo} AND NOT coinbase
          AND txid IN (SELECT next_txid FROM spend UNION ALL SELECT txid FROM e)
        GROUP BY txid HAVING count(script_type) = count(*)
    ),
    print AS (
        SELECT x.txid, x.height, x.version,
               CASE WHEN x.locktime = 0 THEN 0 WHEN x.locktime < 500000000 THEN 1 ELSE 2 END
                   AS lock_style,
               it.types
        FROM txs x JOIN input_types it ON it.txid = x.txid
        WHERE x.height >= {lo}
    )
    SELECT spend.txid, spend.vout
    FROM spend
    JOIN print mine ON mine.txid = spend.txid
    JOIN print next ON next.txid = spend.next_txid AND next.height = spend.next_height
    WHERE next.version = mine.version AND next.lock_style = mine.lock_style
      AND next.types = mine.types
"""

_CANDIDATES = {
    "one_time_change": _ONE_TIME,
    "address_type": _ADDRESS_TYPE,
    "round_value": _ROUND_VALUE,
    "peel_chain": _PEEL_CHAIN,
    "fingerprint": _FINGERPRINT,
}


def _check(heuristic: str) -> None:
    if heuristic in CHANGE_HEURISTICS:
        return
    close = difflib.get_close_matches(heuristic, CHANGE_HEURISTICS, n=1)
    raise UsageError(
        f"unknown change heuristic {heuristic!r}",
        expected="one of " + ", ".join(CHANGE_HEURISTICS),
        hint=f"did you mean {close[0]}?" if close else None,
    )


def change_outputs(
    con: duckdb.DuckDBPyConnection,
    heuristic: str,
    *,
    min_height: int = 0,
    max_height: int | None = None,
    mixing: pa.Table | None = None,
) -> pa.Table:
    """The change output ``heuristic`` names for each transaction in
    ``min_height..max_height``: columns txid, height, vout, address, heuristic, at most
    one row per transaction, ordered by height then txid (see the module docstring).

    ``mixing`` is ``detect_mixing``'s table for the same heights when the caller has it
    already (several heuristics in one run); otherwise it is computed. Spends and first
    appearances are looked up across the whole store. An unknown ``heuristic`` raises
    ``UsageError`` naming the known ones.
    """
    _check(heuristic)
    if mixing is None:
        mixing = detect_mixing(con, min_height=min_height, max_height=max_height)
    settle(con)
    scope = _height_scope(min_height, max_height)
    lo, hi = _bounds(min_height, max_height)
    with _Registered(con) as register:
        candidates = _CANDIDATES[heuristic].format(lo=lo, hi=hi)
        sql = _BASE.format(
            scope=scope,
            mixing=register(mixing.select(["txid"])),
            candidates=candidates,
            name=heuristic,
        )
        rows = con.sql(sql).to_arrow_table().cast(SCHEMA)
    return rows.sort_by([("height", "ascending"), ("txid", "ascending")])
