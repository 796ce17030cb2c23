"""Parquet export/import: a round trip loses nothing; a bad export changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spector.errors import InputError, SchemaTooNew
from spector.model import Capture, Feedback, Listing, Market, Selector, VendorAccount
from spector.store import Workspace, export_parquet, import_parquet
from spector.store._parquet import NOT_EXPORTED

T0 = datetime(2024, 1, 1, tzinfo=UTC)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
moment = st.integers(0, 10**6).map(lambda s: T0 + timedelta(seconds=s))
money = st.decimals(min_value=0, max_value=10**9, places=8, allow_nan=False)


@st.composite
def records(draw):
    market = Market(
        name=draw(text.filter(str.strip)), status=draw(st.sampled_from(["active", "seized"]))
    )
    vendor = VendorAccount(
        market_id=market.id,
        handle=draw(text),
        rating=draw(st.none() | st.floats(0, 5)),
        pgp_fingerprints=tuple(
            draw(st.lists(st.text("0123456789ABCDEF", min_size=40, max_size=40), max_size=2))
        ),
        sales_count=draw(st.none() | st.integers(0, 10**9)),
        joined=draw(st.none() | moment),
    )
    listing = Listing(
        market_id=market.id,
        listing_ref=draw(text),
        vendor_id=vendor.id,
        title=draw(text),
        price=draw(st.none() | money),
        ships_to=tuple(draw(st.lists(st.sampled_from(["EU", "US", "WW"])))),
    )
    feedback = Feedback(
        market_id=market.id,
        listing_id=listing.id,
        rating=draw(st.none() | st.floats(0, 5)),
        text=draw(text),
        left_after=draw(moment),
    )
    capture = Capture(
        url="http://x.onion/" + draw(text),
        host="x.onion",
        fetched_at=draw(moment),
        status=draw(st.none() | st.integers(100, 599)),
        sha256="0" * 64,
    )
    return [market, vendor, listing, feedback, capture, Selector(kind="telegram", value=draw(text))]


def _dump(ws):
    out = {}
    for table in ws.store.tables():
        out[table] = sorted(map(repr, ws.store.con.execute(f'SELECT * FROM "{table}"').fetchall()))
    return out


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.tuples(records(), moment), min_size=1, max_size=3))
def test_round_trip_loses_nothing(tmp_path_factory, batches):
    base = tmp_path_factory.mktemp("rt")
    with Workspace.init(base / "a") as a:
        for i, (recs, seen) in enumerate(batches):
            a.store.upsert(recs, source=f"s{i}", seen_at=seen)
        rows = export_parquet(a.store, base / "export")
        original = _dump(a)
    assert rows == {t: len(v) for t, v in original.items() if t not in NOT_EXPORTED}
    with Workspace.init(base / "b") as b:
        import_parquet(b.store, base / "export")
        assert _dump(b) == original
        import_parquet(b.store, base / "export")  # idempotent
        assert _dump(b) == original


def _exported(tmp_path):
    with Workspace.init(tmp_path / "a") as a:
        a.store.upsert([Market(name="Alpha"), Selector(kind="email", value="a@b.c")], source="s")
        export_parquet(a.store, tmp_path / "export")
    return tmp_path / "export"


def test_tampered_file_is_refused_and_nothing_imported(tmp_path):
    folder = _exported(tmp_path)
    with (folder / "selectors.parquet").open("ab") as f:
        f.write(b"x")
    with Workspace.init(tmp_path / "b") as b:
        with pytest.raises(InputError, match="SHA-256"):
            import_parquet(b.store, folder)
        assert sum(b.store.counts().values()) == 0


def test_missing_or_foreign_manifest(tmp_path):
    with Workspace.init(tmp_path / "b") as b:
        with pytest.raises(InputError, match=r"manifest\.json"):
            import_parquet(b.store, tmp_path)
        (tmp_path / "manifest.json").write_text("{not json")
        with pytest.raises(InputError, match="malformed JSON"):
            import_parquet(b.store, tmp_path)


def test_newer_export_is_refused(tmp_path):
    folder = _exported(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["schema_version"] = 999
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with Workspace.init(tmp_path / "b") as b, pytest.raises(SchemaTooNew):
        import_parquet(b.store, folder)


def test_prices_survive_exactly(tmp_path):
    with Workspace.init(tmp_path / "a") as a:
        m = Market(name="Alpha")
        a.store.upsert(
            [m, Listing(market_id=m.id, listing_ref="1", price=Decimal("0.00012345"))], source="s"
        )
        export_parquet(a.store, tmp_path / "e")
    with Workspace.init(tmp_path / "b") as b:
        import_parquet(b.store, tmp_path / "e")
        assert b.store.con.execute("SELECT price FROM listings").fetchall() == [
            (Decimal("0.00012345"),)
        ]


def test_keyless_tables_round_trip_once(tmp_path):
    """Tables without a key (tags, traces, analyst decisions) merge by whole rows: an
    import adds what the store lacks, and importing the same export again adds nothing."""
    from spector.chain._tags_import import import_packs

    tags = Path(__file__).resolve().parents[2].parent / "shared/data/tags/hydra.yaml"
    with Workspace.init(tmp_path / "a") as a:
        import_packs(a, [tags])
        export_parquet(a.store, tmp_path / "x")
    with Workspace.init(tmp_path / "b") as b:
        first = import_parquet(b.store, tmp_path / "x")
        again = import_parquet(b.store, tmp_path / "x")
        assert (first["chain_tags"].inserted, first["chain_tags"].updated) == (117, 0)
        assert (again["chain_tags"].inserted, again["chain_tags"].updated) == (0, 117)
        assert b.store.con.execute("SELECT count(*) FROM chain_tags").fetchone() == (117,)
    assert "chain_clusters" in NOT_EXPORTED
    assert "cluster_decisions" not in NOT_EXPORTED
