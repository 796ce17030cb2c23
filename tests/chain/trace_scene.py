"""The tracer tests' hand-built chain: one story per scene, amounts chosen so that every
policy's result can be worked out by hand (see tests/chain/test_trace_policies.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.chain.trace_chain import BTC, Book, address, clusters, tag

from spector.store import Workspace


@dataclass
class Scene:
    ws: Workspace
    A: str  # the crafted transaction's tainted input (30 BTC)
    X: str  # its clean input (20 BTC)
    E1: str
    E2: str
    G0: str  # a 1-in-1-out chain with a dust branch
    V0: str  # the start of a peel chain
    V: list[str]
    E3: str
    M: str  # a vendor paying a mixer
    D: str  # its deposit
    E4: str
    W: str  # an address whose money moves inside itself and comes back
    ta: str  # txid paying A
    Q: str = ""  # an address paid back to itself together with an exchange's coin
    S0: str = ""  # one plain hop, then a peel chain


def build_scene(ws: Workspace, folder: Path) -> Scene:
    b = Book()
    c0 = b.coinbase((50 * BTC, "k1"))
    c1 = b.coinbase((50 * BTC, "k2"))
    b.coinbase((BTC, "miner"))
    ta = b.pay([(c0, 0)], (30 * BTC, "A"), (1_999_000_000, "k1c"))
    tx = b.pay([(c1, 0)], (20 * BTC, "X"), (2_999_000_000, "k2c"))
    b.coinbase((BTC, "miner"))
    # the crafted transaction: tainted 30 BTC first, clean 20 BTC second; fee 0.1 BTC
    t = b.pay([(ta, 0), (tx, 0)], (10 * BTC, "E1"), (3_990_000_000, "E2"))
    # hop limit, dust and unspent: G0 -> g1 -> [G1, Gd 500 sat]; Gd -> g2; G1 -> g3 -> g4
    c2 = b.coinbase((50 * BTC, "G0"))
    b.coinbase((BTC, "miner"))
    g1 = b.pay([(c2, 0)], (4_999_899_000, "G1"), (500, "Gd"))
    b.coinbase((BTC, "miner"))
    b.pay([(g1, 1)], (400, "Gx"))
    g3 = b.pay([(g1, 0)], (4_999_798_000, "G2"))
    b.coinbase((BTC, "miner"))
    b.pay([(g3, 0)], (4_999_697_000, "G3"))
    # a peel chain: V0 -> p1 [P1, V1] -> p2 [V2, P2] -> p3 [P3, V3] -> p4 [E3]
    c3 = b.coinbase((10 * BTC, "V0"))
    b.coinbase((BTC, "miner"))
    p1 = b.pay([(c3, 0)], (BTC, "P1"), (899_900_000, "V1"))
    b.coinbase((BTC, "miner"))
    p2 = b.pay([(p1, 1)], (799_800_000, "V2"), (BTC, "P2"))
    b.coinbase((BTC, "miner"))
    p3 = b.pay([(p2, 0)], (BTC, "P3"), (699_700_000, "V3"))
    b.coinbase((BTC, "miner"))
    b.pay([(p3, 1)], (699_600_000, "E3"))
    # a ChipMixer-style mixer: premined chips; M pays deposit D, the mixer cuts it into
    # chips; a day later it pays chips of its pool out to E4 (about D) and E5 (far less)
    pool = b.coinbase(*[(100_000 << n, f"chip{i}") for i, n in enumerate((4, 3, 2, 0, 1, 0))])
    c5 = b.coinbase((BTC, "M"))
    b.coinbase((BTC, "miner"))
    m1 = b.pay([(c5, 0)], (3_000_000, "D"), (96_999_000, "Mc"))
    b.pay([(m1, 0)], *[(100_000 << n, f"split{n}") for n in (4, 3, 2, 0)], (99_000, "rest"))
    b.gap = 86_400 // 2
    b.coinbase((BTC, "miner"))
    b.pay([(pool, 0), (pool, 1), (pool, 2), (pool, 3)], (2_899_000, "E4"))
    b.pay([(pool, 4), (pool, 5)], (299_000, "E5"))
    b.gap = 600
    # W: 10 BTC in; 6 out to Y and back; then everything to E6
    c6 = b.coinbase((10 * BTC, "W"))
    b.coinbase((BTC, "miner"))
    w1 = b.pay([(c6, 0)], (6 * BTC, "Y"), (399_900_000, "W"))
    b.coinbase((BTC, "miner"))
    w2 = b.pay([(w1, 0)], (599_900_000, "W"))
    b.coinbase((BTC, "miner"))
    b.pay([(w1, 1), (w2, 0)], (999_700_000, "E6"))
    # Q: 10 BTC mined; with 5 BTC of an exchange (Z) paid to Q again in one transaction
    c7 = b.coinbase((10 * BTC, "Q"))
    c8 = b.coinbase((5 * BTC, "Z"))
    b.coinbase((BTC, "miner"))
    b.pay([(c7, 0), (c8, 0)], (1_499_900_000, "Q"))
    # S0 -> s1 -> S1, then a peel chain S1 -> t1 [Pa, S2] -> t2 [S3, Pb] -> t3 [Pc, S4] -> t4
    c9 = b.coinbase((10 * BTC, "S0"))
    b.coinbase((BTC, "miner"))
    s1 = b.pay([(c9, 0)], (999_900_000, "S1"))
    b.coinbase((BTC, "miner"))
    t1 = b.pay([(s1, 0)], (BTC, "Pa"), (899_800_000, "S2"))
    b.coinbase((BTC, "miner"))
    t2 = b.pay([(t1, 1)], (799_700_000, "S3"), (BTC, "Pb"))
    b.coinbase((BTC, "miner"))
    t3 = b.pay([(t2, 0)], (BTC, "Pc"), (699_650_000, "S4"))
    b.coinbase((BTC, "miner"))
    t4 = b.pay([(t3, 1)], (699_550_000, "E8"))
    b.ingest(ws, folder)
    s = Scene(
        ws,
        address(ws, ta),
        address(ws, tx),
        address(ws, t, 0),
        address(ws, t, 1),
        address(ws, c2),
        address(ws, c3),
        [address(ws, p, i) for p, i in ((p1, 1), (p2, 0), (p3, 1))],
        "",
        address(ws, c5),
        address(ws, m1),
        "",
        address(ws, c6),
        ta.txid_hex(),
    )
    con = ws.store.con
    s.E3 = str(con.execute("SELECT address FROM outputs WHERE value = 699600000").fetchone()[0])
    s.E4 = str(con.execute("SELECT address FROM outputs WHERE value = 2899000").fetchone()[0])
    e5 = str(con.execute("SELECT address FROM outputs WHERE value = 299000").fetchone()[0])
    e6 = str(con.execute("SELECT address FROM outputs WHERE value = 999700000").fetchone()[0])
    for addr, label in (
        (s.E1, "Ex One"),
        (s.E2, "Ex Two"),
        (s.E3, "Ex Three"),
        (s.E4, "Ex Four"),
        (e5, "Ex Five"),
        (e6, "Ex Six"),
    ):
        tag(ws, addr, label, "exchange")
    tag(ws, address(ws, c1), "Funding Ex", "exchange")
    # a vendor known from its pages (V0) and from a seized order paid to A
    con.execute(
        "INSERT INTO vendor_accounts (id, market_id, handle, source, first_seen, last_seen) "
        "VALUES ('vend-1', 'mkt', 'Vendy', 'test', now(), now())"
    )
    con.execute(
        "INSERT INTO orders (id, market_id, order_ref, listing_id, vendor_id, amount, currency, "
        "payto_address, source, first_seen, last_seen) VALUES ('o-1', 'mkt', '1', 'lst-1', "
        "'vend-1', 30, 'BTC', ?, 'test', now(), now())",
        [s.A],
    )
    tag(
        ws,
        s.V0,
        "Vendy",
        "vendor",
        confidence="web_crawl",
        origin="web_crawl",
        subject=("vendor_accounts", "vend-1"),
    )
    clusters(ws, {900: [s.A, s.V0]})
    s.Q, s.S0 = address(ws, c7), address(ws, c9)
    tag(ws, address(ws, c8), "Zed Ex", "exchange")
    tag(ws, address(ws, t4), "Ex Eight", "exchange")
    return s
