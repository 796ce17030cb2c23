"""CoinJoin and ChipMixer-style chip detection over the chain views.

``detect_mixing`` names the transactions whose inputs are *not* one owner's: clustering
skips them, and the change heuristics judge none of them. Each row's ``kind`` names the
first rule that matched, in this order (all set-based SQL, one pass per scope):

``wasabi2``
    WabiSabi rounds (Wasabi Wallet 2), the shape the Dumplings project detects: at
    least 50 inputs, every input and output native segwit (P2WPKH or P2TR), inputs and
    outputs in descending value order (the coordinator sorts them), and more than 80 %
    of the outputs at a standard denomination (1-2-5 x 10^k, 2^k, 3^k or 2 x 3^k sat,
    from 5,000 sat to 2^37 sat). No block-height gate: on regtest heights mean nothing.
``wasabi1``
    ZeroLink rounds (Wasabi Wallet 1): every output P2WPKH; the most frequent output value
    is within 0.02 BTC of the 0.1 BTC base denomination and occurs at least 10 times;
    at least as many inputs as equal outputs; at least two outputs of a value no other
    output has (the coordinator fee output and a change).
``whirlpool``
    Samourai Whirlpool mixes. A real mix is 5 inputs and 5 outputs (6-8 in the 2023
    "surge cycles"), every output exactly one pool denomination (0.001, 0.01, 0.05 or
    0.5 BTC), each input that denomination plus at most a miner fee, one input per
    participant, no change. The rule is that mix widened just enough for the training
    range, whose Whirlpool-style rounds join 4-6 participants' coins (fresh premix coins
    of 1.2-1.65 x the pool, or post-mix coins of exactly it) with a vendor that takes up
    to five of the equal outputs and gets its change back in the mix: at least 5 outputs
    of exactly a pool denomination ``d``; inputs from at least 5 owners, at least 4 of
    them holding an input of one pool unit (``d <= value < 2d``: a participant's coin
    can fund one output and nothing more); and no more other outputs than inputs (one
    change per input at most). Every real mix passes (5-8 pool-unit inputs, nothing else
    out); what the widening admits beyond them is a join of four or more pool-unit coins
    with one further party, which is a coinjoin too.
``joinmarket``
    JoinMarket: ``n >= 3`` outputs of one value ``d`` (the unique most frequent value,
    not the dust values 546 / 2730), at most ``n`` other outputs (one change per
    participant), inputs from at least ``n`` owners (each participant funds its own
    equal output), and every input and output of one script type (a taker only joins
    makers of its own address type). A payout batch that spends ``n`` or more deposit
    addresses and pays ``n >= 3`` parties exactly the same amount would pass too; the
    range has none, and real markets pay from few hot-wallet coins.
``coinjoin``
    BlockSci's ``is_coinjoin``, the anchor, for what the named protocols leave: at least
    2 inputs and 3 outputs; with ``p = ceil(outputs / 2)`` participants (each paid one
    equal output and one change), ``p`` inputs and ``p`` input owners at least, and the
    most frequent output value occurring exactly ``p`` times and not dust (546 / 2730
    sat). One addition to BlockSci's rule: ``p >= 3``, because two equal payouts (an
    exchange paying two customers the same round amount) are not a coinjoin.
``chip``
    ChipMixer-style chips, outputs of 0.001 x 2^n BTC (n = 0..12, up to 4.096 BTC).
    A *split* has at least two chip outputs and at most one other output (the deposit's
    remainder). A *spend* has only chips as inputs, none of them a coinjoin's output,
    and either two or more of them or one made by a split (a single coin of a round
    value could be anyone's).

Outputs with script type ``nulldata`` (OP_RETURN) count for nothing. An input's owner
is its address, or for inputs without one (P2PK) the outpoint it spends. Coinbases are
never judged. An input whose spent output the store does not hold (a chain ingested from
the middle) counts as its own owner, of no known script type, and holding no known value:
such a transaction can still match the rules that count owners (JoinMarket, BlockSci's;
block 413,567 alone holds two JoinMarket rounds of 2016 whose inputs are all unresolved),
not those that need input values (a Whirlpool pool unit, a chip). Leaning towards
"coinjoin" there is the safe side: clustering then merges nothing through it.

False positives the rules are built against (tests cover each): exchange batch
withdrawals (one or few inputs, many outputs of different values: the equal-output
rules need as many input owners as equal outputs), market payout batches (distinct
per-vendor amounts), two equal payouts with change, and dust outputs.
"""

from __future__ import annotations

import uuid

import duckdb
import pyarrow as pa

__all__ = [
    "CHIP_VALUES",
    "DUST_VALUES",
    "MIXING_KINDS",
    "POOL_DENOMINATIONS",
    "WASABI2_DENOMINATIONS",
    "detect_mixing",
]

MIXING_KINDS = ("wasabi2", "wasabi1", "whirlpool", "joinmarket", "coinjoin", "chip")
POOL_DENOMINATIONS = (100_000, 1_000_000, 5_000_000, 50_000_000)  # Whirlpool pools
CHIP_VALUES = tuple(100_000 << n for n in range(13))  # 0.001 .. 4.096 BTC
DUST_VALUES = (546, 2730)  # BlockSci excludes equal outputs of these values
_WASABI2_MIN, _WASABI2_MAX = 5_000, 1 << 37
_NO_MAX = (1 << 62) - 1

SCHEMA = pa.schema([("txid", pa.string()), ("height", pa.int64()), ("kind", pa.string())])


def _wasabi2_denominations() -> tuple[int, ...]:
    values: set[int] = set()
    for base, factors in ((10, (1, 2, 5)), (2, (1,)), (3, (1, 2))):
        power = 1
        while power <= _WASABI2_MAX:
            values.update(f * power for f in factors)
            power *= base
    return tuple(sorted(v for v in values if _WASABI2_MIN <= v <= _WASABI2_MAX))


WASABI2_DENOMINATIONS = _wasabi2_denominations()


def _in_list(values: tuple[int, ...]) -> str:
    return ", ".join(str(v) for v in values)


_NATIVE = "('p2wpkh', 'p2tr')"

# {scope} is a predicate over a table's height and txid columns.
_CLASSIFY = f"""
WITH
t AS MATERIALIZED (
    SELECT txid, height, input_count AS n_in FROM txs
    WHERE NOT coinbase AND output_count >= 2 AND {{scope}}
),
o AS MATERIALIZED (
    SELECT txid, vout, value, script_type FROM outputs
    WHERE {{scope}} AND script_type <> 'nulldata' AND txid IN (SELECT txid FROM t)
),
i AS MATERIALIZED (
    SELECT txid, vin, value, script_type,
           coalesce(address, prev_txid || ':' || prev_vout::VARCHAR) AS owner
    FROM inputs WHERE {{scope}} AND NOT coinbase AND txid IN (SELECT txid FROM t)
),
ist AS (
    SELECT txid,
           count(DISTINCT owner) AS in_owners,
           coalesce(bool_and(script_type IN {_NATIVE}), false) AS in_native,
           count(DISTINCT script_type) AS in_types,
           min(script_type) AS in_type
    FROM i GROUP BY txid
),
ost AS (
    SELECT txid, count(*) AS n_out,
           bool_and(script_type IN {_NATIVE}) AS out_native,
           bool_and(script_type = 'p2wpkh') AS out_p2wpkh,
           count(DISTINCT script_type) AS out_types,
           min(script_type) AS out_type,
           count(*) FILTER (WHERE value IN ({_in_list(CHIP_VALUES)})) AS chip_out,
           count(*) FILTER (WHERE value IN ({_in_list(WASABI2_DENOMINATIONS)})) AS std_out
    FROM o GROUP BY txid
),
g AS (SELECT txid, value, count(*) AS cnt FROM o GROUP BY txid, value),
gm AS (
    SELECT txid, max(cnt) AS n_mode, count(*) FILTER (WHERE cnt = 1) AS singles
    FROM g GROUP BY txid
),
mode AS (
    SELECT g.txid, gm.n_mode, gm.singles, max(g.value) AS d_mode, count(*) AS mode_ties
    FROM g JOIN gm ON g.txid = gm.txid AND g.cnt = gm.n_mode
    GROUP BY g.txid, gm.n_mode, gm.singles
),
pool AS (
    SELECT txid, value AS d, cnt AS n_pool FROM (
        SELECT txid, value, cnt,
               row_number() OVER (PARTITION BY txid ORDER BY cnt DESC, value DESC) AS r
        FROM g WHERE value IN ({_in_list(POOL_DENOMINATIONS)}) AND cnt >= 5
    ) WHERE r = 1
),
units AS (
    SELECT pool.txid, pool.d, pool.n_pool,
           count(DISTINCT i.owner) FILTER (WHERE i.value >= pool.d AND i.value < 2 * pool.d)
               AS unit_owners
    FROM pool JOIN i ON i.txid = pool.txid
    GROUP BY pool.txid, pool.d, pool.n_pool
),
big AS (SELECT txid FROM t WHERE n_in >= 50),
ord AS (
    SELECT txid, bool_and(prev IS NULL OR value <= prev) AS descending FROM (
        SELECT txid, value, lag(value) OVER (PARTITION BY txid ORDER BY vin) AS prev
        FROM i WHERE txid IN (SELECT txid FROM big)
        UNION ALL
        SELECT txid, value, lag(value) OVER (PARTITION BY txid ORDER BY vout) AS prev
        FROM o WHERE txid IN (SELECT txid FROM big)
    ) GROUP BY txid
),
f AS (
    SELECT t.txid, t.height, t.n_in, ist.in_owners, ist.in_native, ist.in_types,
           ist.in_type, ost.n_out, ost.out_native, ost.out_p2wpkh,
           ost.out_types, ost.out_type, ost.chip_out, ost.std_out, mode.n_mode,
           mode.singles, mode.d_mode, mode.mode_ties, units.d AS pool_d, units.n_pool,
           units.unit_owners, coalesce(ord.descending, false) AS descending
    FROM t
    JOIN ist ON ist.txid = t.txid
    JOIN ost ON ost.txid = t.txid
    JOIN mode ON mode.txid = t.txid
    LEFT JOIN units ON units.txid = t.txid
    LEFT JOIN ord ON ord.txid = t.txid
),
k AS (
    SELECT txid, height, CASE
        WHEN n_in >= 50 AND in_native AND out_native AND descending
             AND std_out > 0.8 * n_out THEN 'wasabi2'
        WHEN out_p2wpkh AND n_mode >= 10 AND d_mode BETWEEN 8000000 AND 12000000
             AND n_in >= n_mode AND singles >= 2 THEN 'wasabi1'
        WHEN pool_d IS NOT NULL AND in_owners >= 5 AND unit_owners >= 4
             AND n_out - n_pool <= n_in THEN 'whirlpool'
        WHEN n_mode >= 3 AND mode_ties = 1 AND d_mode NOT IN ({_in_list(DUST_VALUES)})
             AND n_out - n_mode <= n_mode AND in_owners >= n_mode
             AND in_types <= 1 AND out_types = 1 AND coalesce(in_type = out_type, true)
             THEN 'joinmarket'
        WHEN n_in >= 2 AND n_out >= 3 AND (n_out + 1) // 2 >= 3
             AND (n_out + 1) // 2 <= n_in AND (n_out + 1) // 2 <= in_owners
             AND n_mode = (n_out + 1) // 2 AND d_mode NOT IN ({_in_list(DUST_VALUES)})
             THEN 'coinjoin'
        WHEN chip_out >= 2 AND n_out - chip_out <= 1 THEN 'chip'
    END AS kind
    FROM f
)
SELECT txid, height, kind FROM k WHERE kind IS NOT NULL
"""

# the inputs of transactions that spend only chips (prev_height: where the chip was made)
_CHIP_SPENDS = f"""
SELECT txid, height, count(*) OVER (PARTITION BY txid) AS n_in, prev_txid, prev_height
FROM inputs
WHERE {{scope}} AND NOT coinbase AND txid IN (
    SELECT txid FROM inputs WHERE {{scope}} AND NOT coinbase
    GROUP BY txid HAVING coalesce(bool_and(value IN ({_in_list(CHIP_VALUES)})), false)
)
"""

# a chip spend: no input made by a coinjoin, and two or more chips or one from a split
_CHIP_SPEND_RULE = """
SELECT s.txid, any_value(s.height) AS height, 'chip' AS kind
FROM {spends} s LEFT JOIN {origins} m ON m.txid = s.prev_txid
WHERE s.txid NOT IN (SELECT txid FROM {found})
GROUP BY s.txid
HAVING bool_and(m.kind IS NULL OR m.kind = 'chip')
   AND (any_value(s.n_in) >= 2 OR coalesce(bool_or(m.kind = 'chip'), false))
"""


def _bounds(min_height: int, max_height: int | None) -> tuple[int, int]:
    """The judged heights as two ints (no upper bound: the largest height there can be)."""
    return int(min_height), _NO_MAX if max_height is None else int(max_height)


def _height_scope(min_height: int, max_height: int | None) -> str:
    lo, hi = _bounds(min_height, max_height)
    return f"height BETWEEN {lo} AND {hi}"


class _Registered:
    """Arrow tables registered under unique names for one query, then dropped."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.names: list[str] = []

    def __call__(self, table: pa.Table) -> str:
        name = f"_heur_{uuid.uuid4().hex}"
        self.con.register(name, table)
        self.names.append(name)
        return name

    def __enter__(self) -> _Registered:
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.names:
            self.con.unregister(name)


def settle(con: duckdb.DuckDBPyConnection) -> None:
    """Finish a result another caller left half-read on the shared connection (``execute``
    then ``fetchone``): DuckDB 2 refuses new relational queries until it is done."""
    finish = getattr(con, "complete", None)
    if finish is not None:
        finish()


def _classify(con: duckdb.DuckDBPyConnection, scope: str) -> pa.Table:
    return con.sql(_CLASSIFY.format(scope=scope)).to_arrow_table().cast(SCHEMA)


def detect_mixing(
    con: duckdb.DuckDBPyConnection, *, min_height: int = 0, max_height: int | None = None
) -> pa.Table:
    """The transactions in ``min_height..max_height`` detected as CoinJoins or chip
    activity: columns txid, height, kind (one of ``MIXING_KINDS``, see the module
    docstring), one row per transaction, ordered by height then txid.

    Reads the views txs, inputs and outputs (``ChainStore.refresh_views``); the
    transactions that made a chip spend's inputs are judged wherever they are in the
    store. Pure: writes nothing.
    """
    settle(con)
    scope = _height_scope(min_height, max_height)
    found = _classify(con, scope)
    spends = con.sql(_CHIP_SPENDS.format(scope=scope)).to_arrow_table()
    if spends.num_rows:
        with _Registered(con) as register:
            spent = register(spends)
            origin_scope = (
                f"height IN (SELECT DISTINCT prev_height FROM {spent}) "
                f"AND txid IN (SELECT prev_txid FROM {spent})"
            )
            origins = _classify(con, origin_scope)
            sql = _CHIP_SPEND_RULE.format(
                spends=spent, origins=register(origins), found=register(found)
            )
            more = con.sql(sql).to_arrow_table().cast(SCHEMA)
        found = pa.concat_tables([found, more])
    return found.sort_by([("height", "ascending"), ("txid", "ascending")])
