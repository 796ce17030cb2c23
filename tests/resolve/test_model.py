"""The decision model: training on labelled ranges, the frozen shipped model, scoring,
and evidence ordered by what each feature added to the score."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spector.errors import ConfigError
from spector.resolve._accounts import AccountRow, build_accounts
from spector.resolve._model import (
    DERIVED,
    Model,
    default_model_path,
    link_evidence,
    load_model,
    model_features,
    pairwise_prf,
    save_model,
)
from spector.resolve._train import evaluate, range_set, train
from tests.resolve.resolved import build_range


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    """The seed-7 tiny range: neither its seed nor its scale-and-seed trained the model."""
    return range_set(build_range(tmp_path_factory.mktemp("held")))


def test_shipped_model_is_frozen_valid_and_trained_on_other_seeds():
    model = load_model()
    raw = json.loads(default_model_path().read_text())
    assert raw["format"] == "spector-resolve-model"
    assert raw["kind"] == "logistic_regression"
    from spector.resolve._features import FEATURES

    assert model.features == (*FEATURES, *DERIVED)
    assert len(model.coef) == len(model.features) == len(model.mean) == len(model.scale)
    assert 0.0 < model.threshold < 1.0
    seeds = {(t["seed"], t["scale"]) for t in model.trained_on}
    assert seeds == {(101, "tiny"), (102, "tiny"), (103, "tiny"), (104, "small")}
    assert (7, "tiny") not in seeds
    assert not any(s == 7 for s, _ in seeds)
    # the strongest evidence points the right way
    weight = dict(zip(model.features, model.coef, strict=True))
    assert weight["pgp_same"] > 0
    assert weight["keys_ships_conflict"] < 0
    # the impostor signals too: 1-star feedback, titles undercut
    assert weight["low_rating_max"] < 0
    assert weight["low_rating_gap"] < 0
    assert weight["title_price_gap"] < 0
    assert raw["figures"]["train"]["mrange-104s"]["actors"]["f1"] >= 0.95


def test_frozen_model_on_a_held_out_range_links_actors_at_f1_095(held_out):
    model = load_model()
    figures = evaluate(model, held_out)
    assert figures["actors"]["f1"] >= 0.95, figures
    assert figures["actors"]["precision"] >= 0.95
    assert figures["impostors_merged"] == 0


def test_train_learns_from_labels_and_picks_a_threshold(held_out):
    model = train([held_out])
    assert model.trained_on[0]["seed"] == 7
    scores = model.score(held_out.features)
    positives, negatives = scores[held_out.labels], scores[~held_out.labels]
    assert positives.min() > np.median(negatives)
    assert model.figures["train"][held_out.name]["links"]["f1"] >= 0.9
    # labels turned upside down give a model that says the opposite
    flipped = type(held_out)(held_out.name, held_out.accounts, held_out.pairs,
                             held_out.features, ~held_out.labels, None, held_out.meta)  # fmt: skip
    upside = train([flipped])
    assert np.corrcoef(upside.score(held_out.features), scores)[0, 1] < 0


def test_save_load_round_trip_and_bad_files(tmp_path, held_out):
    model = train([held_out])
    path = tmp_path / "m.json"
    save_model(model, path)
    back = load_model(path)
    assert np.allclose(back.score(held_out.features), model.score(held_out.features))
    raw = json.loads(path.read_text())
    raw["coefficents"] = raw.pop("coefficients")
    path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match="did you mean 'coefficients'"):
        load_model(path)
    raw["coefficients"] = raw.pop("coefficents")[:-1]
    path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match="coefficients/mean/scale"):
        load_model(path)
    raw = json.loads(json.dumps(model.as_json()))
    raw["features"][0] = "no_such_feature"
    path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match="no_such_feature"):
        load_model(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not a JSON model file"):
        load_model(path)


def _toy() -> tuple[Model, object, np.ndarray]:
    rows = [
        AccountRow(account_id="a", kind="vendor", market_id="m1", market="One",
                   handle="NorthStar", profile_text="Stealth shipping from NL, fast.",
                   pgp={"ABCDEF0123456789ABCD"}, ships_from="NL"),
        AccountRow(account_id="b", kind="vendor", market_id="m2", market="Two",
                   handle="N0rthStar_", profile_text="Stealth shipping from NL, fast!",
                   pgp={"ABCDEF0123456789ABCD"}, ships_from="NL"),
    ]  # fmt: skip
    accounts = build_accounts(rows)
    pairs = np.array([[0, 1]], dtype=np.int32)
    feats = model_features(accounts, pairs)
    names = tuple(feats)
    return (
        Model(features=names, coef=np.ones(len(names)), intercept=0.0,
              mean=np.zeros(len(names)), scale=np.ones(len(names)), threshold=0.5),
        accounts, pairs,
    )  # fmt: skip


def test_evidence_is_ordered_by_contribution_and_ends_with_the_score():
    model, accounts, pairs = _toy()
    feats = model_features(accounts, pairs)
    row = {n: float(v[0]) for n, v in feats.items()}
    assert row["pgp_same"] == 1.0
    assert row["handle_exact_norm"] == 1.0
    names = list(model.features)

    def said(weights: dict[str, float]) -> list[str]:
        coef = np.array([weights.get(n, 0.0) for n in names])
        m = Model(features=model.features, coef=coef, intercept=0.0, mean=model.mean,
                  scale=model.scale, threshold=0.5)  # fmt: skip
        contrib = m.contributions(feats)[0]
        return link_evidence(m, accounts, 0, 1, row, contrib, float(m.score(feats)[0]))

    pgp_first = said({"pgp_same": 5.0, "handle_exact_norm": 1.0})
    handle_first = said({"pgp_same": 1.0, "handle_exact_norm": 5.0})
    key = next(s for s in pgp_first if s.startswith("same PGP key"))
    handle = next(s for s in pgp_first if s.startswith("handles 'NorthStar'"))
    assert pgp_first.index(key) < pgp_first.index(handle)
    assert handle_first.index(handle) < handle_first.index(key)
    assert pgp_first[0] == key
    assert handle_first[0] == handle
    # evidence against the link goes last, before the score
    against = said({"pgp_same": -5.0, "handle_exact_norm": 1.0})
    assert against[-2] == key
    assert against[-1].startswith("model score ")
    assert against[-1].endswith("(below the threshold 0.50)")
    assert pgp_first[-1].endswith("(at or above the threshold 0.50)")


def test_pairwise_prf_counts_pairs_of_the_grouping():
    truth = ["x", "x", "x", "y", None, None]
    assert pairwise_prf([0, 0, 0, 1, 2, 3], truth)["f1"] == 1.0
    merged = pairwise_prf([0, 0, 0, 0, 2, 3], truth)  # y joined x: 3 false pairs
    assert (merged["precision"], merged["recall"]) == (0.5, 1.0)
    split = pairwise_prf([0, 0, 1, 2, 3, 4], truth)  # one of x apart: 2 of 3 pairs missed
    assert (split["precision"], split["recall"]) == (1.0, round(1 / 3, 4))
    nones = pairwise_prf([0, 1, 2, 3, 4, 4], truth)  # two None-truth accounts are not a pair
    assert nones["precision"] == 0.0


def test_default_model_path_is_inside_the_package():
    assert default_model_path().is_file()
    assert Path(default_model_path()).parent.name == "data"
