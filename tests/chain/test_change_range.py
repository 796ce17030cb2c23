"""The change heuristics on the training range: how many change outputs each names and
how many of those are false (the change address's owner is not the inputs' owner).

Figures on ``generate(11, "tiny")`` (named / false): one_time_change 84 / 0,
address_type 562 / 0, round_value 2 / 0, peel_chain 144 / 57, fingerprint 374 / 147.
On this range peel_chain and fingerprint are poor: every transaction has version 2 and
locktime 0, so the fingerprint is only the input script type, and the payees of
background payments spend what they got in one-in, two-out transactions too, which looks
like the next link of a peel chain. These figures are reported, not asserted good; the
tests assert that they are measured against the truth.
"""

from __future__ import annotations

import pytest
from tests.chain.heur_range import change_figures, shuffled, training_range

from spector.chain._change import CHANGE_HEURISTICS, change_outputs
from spector.chain._coinjoin import detect_mixing


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory):
    with training_range(tmp_path_factory.mktemp("range")) as rng:
        con = rng.ws.store.con
        mixing = detect_mixing(con)
        tables = {h: change_outputs(con, h, mixing=mixing) for h in CHANGE_HEURISTICS}
        yield rng, mixing, tables


def test_figures_per_heuristic(measured) -> None:
    rng, _, tables = measured
    con = rng.ws.store.con
    owners = rng.owners()
    fake = shuffled(owners)
    for heuristic, table in tables.items():
        named, false = change_figures(con, table, owners)
        print(f"range change {heuristic}: {named} named, {false} false")  # the report quotes these
        assert named == table.num_rows > 0
        assert 0 <= false <= named
        # with the owners dealt out at random nearly every merge looks false
        named_fake, false_fake = change_figures(con, table, fake)
        assert named_fake == named
        assert false_fake > false
        assert false_fake >= 0.9 * named


def test_nothing_named_for_mixing_coinbase_or_one_output(measured) -> None:
    rng, mixing, tables = measured
    kinds = rng.kinds()
    mixed = set(mixing["txid"].to_pylist())
    for table in tables.values():
        txids = table["txid"].to_pylist()
        assert len(set(txids)) == len(txids)
        assert not mixed & set(txids)
        assert "coinbase" not in {kinds[t] for t in txids}
    con = rng.ws.store.con
    for table in tables.values():
        rows = con.execute(
            "SELECT min(output_count) FROM txs WHERE txid IN (SELECT unnest(?))",
            [table["txid"].to_pylist()],
        ).fetchall()
        assert rows[0][0] >= 2
