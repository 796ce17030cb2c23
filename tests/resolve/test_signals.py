"""Impostor signals: price undercut on shared titles, 1-star feedback, a late copy of the
profile, a dropped contact; and the shipped model telling a copy from a key rotation."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np

from spector.resolve._accounts import AccountRow, build_accounts
from spector.resolve._model import link_evidence, load_model, model_features
from spector.resolve._signals import (
    PRIOR_LOW,
    AccountSignals,
    attach,
    signal_features,
)

PROFILE = (
    "NorthStar: top quality since 2019. Stealth shipping, tracked. Escrow only, no FE. PGP below."
)
TITLES = ["Cocaine 1g 90% pure", "MDMA crystal 5g", "Ketamine needles 2g"]


def _row(aid, market, handle, key, *, contact=True, ships="NL", first=1, last=6):
    """A vendor account seen from the 1st of month ``first`` to the 1st of ``last`` 2023."""
    return AccountRow(
        account_id=aid, kind="vendor", market_id=market, market=market, handle=handle,
        profile_text=PROFILE, titles=list(TITLES), pgp={key},
        selectors={"telegram:northstar_nl"} if contact else set(),
        categories={"drugs.stimulants": 2, "drugs.dissociatives": 1},  # type: ignore[arg-type]
        ships_from=ships, medians={"drugs.stimulants": 60.0, "drugs.dissociatives": 30.0},
        times=[datetime(2023, first, 1), datetime(2023, last, 1)],
    )  # fmt: skip


def _accounts(copy_price=1.0, copy_low=0, copy_fb=40, contact=True, ships="NL", closed=None):
    """Account 0: the vendor on market A; account 1: the same handle and profile text under
    another key on market B (a key rotation, or a copy), pricing the titles at
    ``copy_price`` of the vendor's, ``copy_low`` 1-star feedback of ``copy_fb``."""
    rows = [
        _row("va", "A", "NorthStar", "AAAA" * 10, last=6),
        _row("vb", "B", "N0rthStar_", "BBBB" * 10, contact=contact, ships=ships, first=3),
    ]
    accounts = build_accounts(rows)
    prices = {t.casefold(): p for t, p in zip(TITLES, (90.0, 40.0, 30.0), strict=True)}
    attach(
        accounts,
        AccountSignals(
            feedback=np.array([200, copy_fb]),
            low=np.array([4, copy_low]),
            title_prices=[prices, {t: p * copy_price for t, p in prices.items()}],
            closed_at=[closed, None],
        ),
    )
    return accounts


PAIR = np.array([[0, 1]], dtype=np.int64)


def test_signals_of_a_copy_undercutting_with_one_star_feedback():
    acc = _accounts(
        copy_price=0.45, copy_low=4, copy_fb=5, contact=False, closed=datetime(2023, 2, 15)
    )  # fmt: skip  (before it opened)
    got = signal_features(acc, PAIR, text_char=np.array([1.0]))
    assert math.isclose(got["title_price_gap"][0], -math.log(0.45), rel_tol=1e-9)
    assert got["titles_shared"][0] == 3
    copy_share = (4 + PRIOR_LOW * 2) / (5 + 2)
    assert math.isclose(got["low_rating_max"][0], copy_share)
    assert math.isclose(got["low_rating_gap"][0], copy_share - (4 + 0.1) / 202)
    assert got["late_copy"][0] == 1.0  # opened after the vendor's market closed
    assert got["contact_dropped"][0] == 1.0


def test_signals_of_a_key_rotation_are_neutral():
    acc = _accounts()
    got = signal_features(acc, PAIR, text_char=np.array([1.0]))
    assert got["title_price_gap"][0] == 0.0
    assert got["titles_shared"][0] == 3
    assert got["low_rating_max"][0] < 0.1
    assert got["contact_dropped"][0] == 0.0
    # two months after the vendor appeared: late, though its market did not close
    assert got["late_copy"][0] == 1.0
    assert signal_features(acc, PAIR)["late_copy"][0] == 0.0  # no text: no copy


def test_accounts_without_signals_get_the_neutral_values():
    acc = build_accounts([_row("va", "A", "x", "AA"), _row("vb", "B", "x", "BB")])
    got = signal_features(acc, PAIR, text_char=np.array([1.0]))
    assert got["low_rating_max"][0] == PRIOR_LOW
    assert all(got[k][0] == 0.0 for k in got if k != "low_rating_max")


def test_shipped_model_tells_a_copy_from_a_key_rotation():
    """Both show the handle and profile text under another key, both ship from the same
    country (nothing for the impostor rule to see): only the signals differ."""
    model = load_model()
    rotation = _accounts()
    copy = _accounts(copy_price=0.45, copy_low=4, copy_fb=5)
    genuine = model.score(model_features(rotation, PAIR))[0]
    feats = model_features(copy, PAIR)
    impostor = model.score(feats)[0]
    assert genuine >= model.threshold > impostor, (genuine, impostor)
    row = {n: float(v[0]) for n, v in feats.items()}
    said = link_evidence(model, copy, 0, 1, row, model.contributions(feats)[0], impostor)
    assert any("priced 55% lower" in s for s in said), said
    assert any("1-star feedback: 'NorthStar' 4 of 200, 'N0rthStar_' 4 of 5" in s for s in said)
    assert said[-1].startswith(f"model score {impostor:.2f} (below")
