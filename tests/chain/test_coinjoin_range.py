"""detect_mixing on the training range: precision and recall against its truth.

Figures measured on ``generate(11, "tiny")`` (1,864 transactions): the coinjoin
detector finds all 57 coinjoin rounds and nothing else (precision 1.0, recall 1.0); the
chip detector finds 46 of 58 mixer_split / mixer_out transactions and nothing else
(precision 1.0, recall 0.79; seeds 12-14: 0.66-0.76). The chips it misses are splits
that make a single chip (one round output and change, like any payment) and, mostly,
single chips of the range's premine spent alone: the range seeds the mixer's pool from
the block-0 coinbase, which no real mixer's chips come from, so the rule (a lone chip
counts when a split made it) cannot see them.
"""

from __future__ import annotations

import pytest
from tests.chain.heur_range import CHIP_KINDS, precision_recall, shuffled, training_range

from spector.chain._coinjoin import detect_mixing


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory):
    with training_range(tmp_path_factory.mktemp("range")) as rng:
        table = detect_mixing(rng.ws.store.con)
        found = dict(zip(table["txid"].to_pylist(), table["kind"].to_pylist(), strict=True))
        yield found, rng.kinds()


def _figures(found: dict[str, str], truth: dict[str, str]) -> dict[str, tuple[float, float]]:
    coinjoins = {t for t, k in found.items() if k != "chip"}
    chips = {t for t, k in found.items() if k == "chip"}
    return {
        "coinjoin": precision_recall(coinjoins, {t for t, k in truth.items() if k == "coinjoin"}),
        "chip": precision_recall(chips, {t for t, k in truth.items() if k in CHIP_KINDS}),
    }


def test_coinjoin_and_chip_detectors_on_the_range(measured) -> None:
    found, truth = measured
    figures = _figures(found, truth)
    print(f"range detect_mixing: {figures}")  # the report quotes these
    precision, recall = figures["coinjoin"]
    assert precision >= 0.98
    assert recall >= 0.95
    precision, recall = figures["chip"]
    assert precision >= 0.98
    assert recall >= 0.70
    # the range's rounds are Whirlpool-style; nothing there is another protocol's
    assert {k for k in found.values() if k != "chip"} == {"whirlpool"}


def test_the_figures_depend_on_the_truth(measured) -> None:
    found, truth = measured
    real = _figures(found, truth)
    fake = _figures(found, shuffled(truth))
    for detector in ("coinjoin", "chip"):
        assert fake[detector][0] < 0.5 * real[detector][0]
        assert fake[detector][1] < 0.5 * real[detector][1]


def test_no_coinbase_and_truth_covers_every_detection(measured) -> None:
    found, truth = measured
    assert set(found) <= set(truth)
    assert not any(truth[t] == "coinbase" for t in found)
