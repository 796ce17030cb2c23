"""Shared by the tag tests: the CLI, packs written from Python, clusters put by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from spector.cli import main

DATA = Path(__file__).resolve().parent / "data"
EARLY_TAGS = DATA / "mainnet_early_tags.yaml"
EARLY_ACTORS = DATA / "mainnet_early_actors.yaml"


def run(capsys, *args: str) -> tuple[int, str, str]:
    """Run `spector ARGS`; (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write_pack(path: Path, header: dict[str, Any], tags: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**header, "tags": tags}, sort_keys=False), encoding="utf-8")
    return path


def set_clusters(con, clusters: dict[str, int]) -> None:
    """Make ``chain_clusters`` hold exactly ``clusters`` (address -> cluster id), as the
    CLUSTER part's table does (created here if its migration is not there)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS chain_clusters (address VARCHAR NOT NULL, "
        "cluster_id BIGINT NOT NULL)"
    )
    con.execute("DELETE FROM chain_clusters")
    if clusters:
        con.executemany("INSERT INTO chain_clusters VALUES (?, ?)", list(clusters.items()))


def graphsense_verdict(path: Path) -> str | None:
    """What GraphSense's own tool says of a TagPack file: None when it validates, else its
    error. Its loader, its TagPack, its validate(): nothing of Spector's."""
    import contextlib
    import io
    import os

    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    from tagpack import UniqueKeyLoader
    from tagpack.tagpack import TagPack
    from tagpack.tagpack_schema import TagPackSchema

    from spector.chain._tags_schema import graphsense

    try:
        with contextlib.redirect_stdout(io.StringIO()), path.open(encoding="utf-8") as handle:
            # TagPack.load_from_file's steps, with the file closed after (it leaves it open)
            contents = yaml.load(handle, UniqueKeyLoader)  # noqa: S506 - GraphSense's SafeLoader
            if "header" in contents:
                contents.update(contents.pop("header"))
            pack = TagPack(str(path), contents, TagPackSchema(), graphsense().taxonomies)
            pack.validate()
    except Exception as exc:  # any refusal, whatever its class
        return f"{type(exc).__name__}: {exc}"
    return None


def tag_rows(con, where: str = "TRUE", params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(
        f"SELECT * FROM chain_tags WHERE {where} ORDER BY line, address", params or []
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# Valid mainnet addresses (Bitcoin Core's key_io_valid.json) standing in for what pages
# and seized orders show.
A1, A2 = "1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo", "36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm"
B1 = "bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv"
F = "1FjL87pn8ky6Vbavd1ZHeChRXtoxwRGCRd"  # shown on every vendor's page: page furniture
Q = "3BZECeAH8gSKkjrTx8PwMrNQBLG18yHpvf"  # on an index page showing many vendors
D1 = "bc1qhxt04s5xnpy0kxw4x99n5hpdf5pmtzpqs52es2"
D2 = "bc1p83n3au0rjylefxq2nc2xh2y4jzz4pm6zxj4mw5pagdjjr2a9f36s6jjnnu"


def own_data(ws) -> dict[str, Any]:
    """What extraction and a seized import store, written as they write it: a market, three
    vendor accounts, pages (captures) each observing the records it showed and the BTC
    addresses sighted on it, and seized orders with pay-to addresses."""
    from datetime import datetime
    from decimal import Decimal

    from spector.model import Capture, Listing, Market, Order, Selector, SelectorSighting
    from spector.model import VendorAccount as V

    market = Market(name="Test Market", onions=("testmarket.onion",))
    alice, bob, carol = (V(market_id=market.id, handle=h) for h in ("alice", "bob", "carol"))
    listing = Listing(market_id=market.id, listing_ref="L1", vendor_id=bob.id, title="x")

    def capture(path: str, day: int) -> Capture:
        return Capture(
            url=f"http://testmarket.onion{path}",
            host="testmarket.onion",
            fetched_at=datetime(2024, 1, day, 12),
            status=200,
            content_type="text/html",
            sha256=f"{path}{day}",
        )

    pages = [
        (capture("/vendor/alice", 2), [alice], [A1, A2, F]),
        (capture("/vendor/alice", 9), [alice], [A1]),  # seen again a week later
        (capture("/listing/L1", 3), [bob, listing], [B1, F]),
        (capture("/vendor/carol", 3), [carol], [F]),
        (capture("/category/all", 3), [alice, bob], [Q]),  # two vendors: whose is Q?
    ]
    for page, records, addresses in pages:
        sightings: list[Any] = []
        for n, address in enumerate(addresses):
            selector = Selector(kind="btc_address", value=address)
            sightings += [
                selector,
                SelectorSighting(
                    selector_id=selector.id,
                    kind="btc_address",
                    value=address,
                    capture_id=page.id,
                    char_start=100 * n,
                    char_end=100 * n + len(address),
                ),
            ]
        ws.store.upsert(
            [market, page, *records, *sightings],
            source=f"capture:{page.id}",
            seen_at=page.fetched_at,
        )
    orders = [
        Order(
            market_id=market.id,
            order_ref=f"o{i}",
            vendor_id=bob.id,
            amount=Decimal("0.01"),
            currency="BTC",
            payto_address=address,
            created_at=datetime(2024, 1, 1 + i),
        )
        for i, address in enumerate([D1, D1, D1, D2, D2, None])
    ]
    ws.store.upsert([market, *orders], source="seized:test-export")
    return {"market": market, "alice": alice, "bob": bob, "carol": carol, "pages": pages}
