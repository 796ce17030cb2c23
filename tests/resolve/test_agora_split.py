"""Wang et al. 2018's protocol on the real Agora 2014 listings (../shared/data): each
vendor with at least 4 listings split into two halves posing as two accounts on two
pseudo-markets, blocked by MinHash LSH over the listing titles, re-linked by a logistic
regression on text features trained on one half of the vendors and tested on the other
(both ways). TEXT ONLY: handles hidden, no photos, keys or contacts (see
``spector.resolve._split``); the paper's photo method reached 97.5 %. The floors are the
figures measured, rounded down: a change that loses re-links fails them."""

from __future__ import annotations

from collections import Counter

import pytest

from spector.errors import InputError
from spector.resolve._split import _read, agora_split, split_rows, title_candidates

AGORA = "markets/agora-2014-01-01.csv"


def test_the_split_hides_the_vendor_and_alternates_by_day(shared_data):
    rows = _read(shared_data / AGORA)
    halves, truth, masked = split_rows(rows)
    assert len(halves["A"]) + len(halves["B"]) == len(rows) == 7986
    per_vendor = Counter(truth.values())
    assert len(per_vendor) == 261  # MANIFEST: 261 distinct vendors
    split = [v for v, n in per_vendor.items() if n == 2]
    assert len(split) == 192
    # the neutral ids say nothing of the vendor, and every title lost its vendor's name
    for half in halves.values():
        for r in half:
            vendor = truth[r["vendor"]]
            assert vendor.lower() not in r["vendor"].lower()
            assert vendor.lower() not in r["product"].lower()
            assert r["feedback"] == "NA"
    assert masked > 0
    # alternating by the first day saved: the halves differ by at most one listing
    pages = {h: Counter(truth[r["vendor"]] for r in halves[h]) for h in "AB"}
    first = {}
    for h in "AB":
        for r in halves[h]:
            key = (h, truth[r["vendor"]], r["list"].split("__")[1])
            first[key] = 1
    listing_counts = {h: Counter(v for (hh, v, _) in first if hh == h) for h in "AB"}
    for v in split:
        assert abs(listing_counts["A"][v] - listing_counts["B"][v]) <= 1
        assert pages["A"][v]
        assert pages["B"][v]


def test_a_file_of_another_layout_is_refused(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("vendor,title\nalice,thing\n", encoding="utf-8")
    with pytest.raises(InputError, match="no column list"):
        agora_split(bad, tmp_path / "work")


def test_title_blocking_pairs_near_titles_only():
    titles = [
        "Afghan hash 10g premium quality\nAfghan hash 25g premium quality",
        "Afghan hash 5g premium quality\nAfghan hash 50g premium quality",
        "Netflix account lifetime warranty",
        "",
        "Dutch MDMA crystals 1g 84 percent",
    ]
    pairs, jaccard = title_candidates(titles)
    assert pairs.tolist() == [[0, 1]]  # the two hash sellers; no title, no candidate
    assert 0.3 < jaccard[0] < 1
    pairs, _ = title_candidates(titles, lsh_threshold=0.9)
    assert pairs.tolist() == []


@pytest.fixture(scope="module")
def relinked(shared_data, tmp_path_factory):
    return agora_split(shared_data / AGORA, tmp_path_factory.mktemp("split"))


def test_halves_are_relinked_text_only(relinked):
    """Text only (the photo method of the paper: 97.5 %). Measured: blocking pairs 1,095
    of 102,378 account pairs and reaches 83.7 % of the split vendors' halves; re-link
    accuracy 78.5 % (folds 72.0 % and 84.9 %), pairwise precision 0.955, recall 0.785,
    F1 0.860; titles alone rank the other half first for 88.5 %."""
    r = relinked
    print(r.as_dict())  # the figures, for the report (pytest -s)
    assert r.vendors == 192
    assert r.distractors == 69
    assert r.accounts == 2 * 192 + 69
    assert r.all_pairs == 453 * 452 // 2
    assert r.candidate_pairs < 0.02 * r.all_pairs  # blocking, never all pairs
    assert "text only" in r.scope
    assert "97.5 %" in r.scope
    assert not {"handle_jw", "pgp_same", "selectors_shared", "same_market"} & set(r.features)
    assert len(r.folds) == 2
    test_vendors = [f["vendors"] for f in r.folds]
    assert sum(test_vendors) == r.vendors  # disjoint halves of the vendors
    assert min(test_vendors) > 60
    for f in r.folds:
        assert f["relinked"] <= round(f["candidate_recall"] * f["vendors"])
        assert f["accuracy"] == round(f["relinked"] / f["vendors"], 4)
        assert f["accuracy"] >= FOLD_ACCURACY_FLOOR, f
        assert 0 < f["threshold"] < 1
    assert r.accuracy == pytest.approx(sum(f["accuracy"] for f in r.folds) / 2, abs=1e-4)
    assert r.candidate_recall >= CANDIDATE_RECALL_FLOOR, r.as_dict()
    assert r.accuracy >= ACCURACY_FLOOR, r.as_dict()
    assert r.precision >= PRECISION_FLOOR, r.as_dict()
    assert r.f1 >= F1_FLOOR, r.as_dict()
    assert r.top1_text >= TOP1_TEXT_FLOOR, r.as_dict()


CANDIDATE_RECALL_FLOOR = 0.83
ACCURACY_FLOOR = 0.78
FOLD_ACCURACY_FLOOR = 0.70
PRECISION_FLOOR = 0.95
F1_FLOOR = 0.85
TOP1_TEXT_FLOOR = 0.88
