"""The range's TagPacks pass GraphSense's own validation and tell only (part of) the truth."""

from __future__ import annotations

from collections import Counter, defaultdict
from importlib import resources
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from tagpack.tagpack import TagPack
from tagpack.tagpack_schema import TagPackSchema
from tagpack.taxonomy import Taxonomy

if TYPE_CHECKING:
    from conftest import Built


@pytest.fixture(scope="module")
def taxonomies() -> dict[str, Taxonomy]:
    """GraphSense's concept and confidence taxonomies, from tagpack-tool's own files."""
    db = resources.files("tagpack") / "db"
    out = {}
    for key, name in (("concept", "concepts.yaml"), ("confidence", "confidence.csv")):
        taxonomy = Taxonomy(key, str(db / name))
        taxonomy.load_from_local()
        out[key] = taxonomy
    return out


@pytest.fixture(scope="module")
def owners(built: Built) -> dict[str, dict[str, Any]]:
    return {row["address"]: row for row in built.tables["addresses"]}


def _tags(built: Built, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    pack = yaml.safe_load((built.out_dir / "tags" / name).read_text())
    header = {k: v for k, v in pack.items() if k != "tags"}
    return header, [{**header, **tag} for tag in pack["tags"]]


def test_every_pack_validates_against_graphsense(
    built: Built, taxonomies: dict[str, Taxonomy]
) -> None:
    assert sorted(p.name for p in built.truth.tag_files) == [
        "exchanges.yaml",
        "markets.yaml",
        "mixer.yaml",
    ]
    schema = TagPackSchema()
    for path in built.truth.tag_files:
        # TagPack.load_from_file leaves its file open; its loader is plain YAML for these
        pack = TagPack(str(path), yaml.safe_load(path.read_text()), schema, taxonomies)
        assert pack.validate()
        assert pack.tags
        broken = dict(pack.contents)
        broken["category"] = "exchange_hot"
        with pytest.raises(Exception, match="Undefined concept"):
            TagPack("x", broken, schema, taxonomies).validate()


def test_exchange_tags_are_a_few_hot_wallet_addresses_defining_the_cluster(
    built: Built, owners: dict[str, dict[str, Any]]
) -> None:
    header, tags = _tags(built, "exchanges.yaml")
    assert header["is_cluster_definer"] is True
    assert header["confidence"] == "manual_transaction"
    per = Counter()
    swept_to: dict[str, set[str]] = defaultdict(set)
    for tag in tags:
        row = owners[tag["address"]]
        assert (row["owner_kind"], row["owner_id"], row["role"]) == (
            "exchange",
            tag["label"],
            "hot_wallet",
        )
        assert tag["category"] == "exchange"
        assert tag["actor"] == tag["label"].lower().replace(" ", "-")
        per[tag["label"]] += 1
        swept_to[tag["label"]].add(tag["address"])
    assert per == {"Exchange A": 3, "Exchange B": 3, "Exchange C": 3}
    hot = Counter(r["owner_id"] for r in owners.values() if r["role"] == "hot_wallet")
    assert all(per[name] < hot[name] for name in per)  # not the whole truth


def test_mixer_tags_are_a_share_of_its_deposits(
    built: Built, owners: dict[str, dict[str, Any]]
) -> None:
    header, tags = _tags(built, "mixer.yaml")
    assert (header["label"], header["category"], header["confidence"]) == (
        "ChipMixer",
        "mixing_service",
        "forensic",
    )
    deposits = [
        a for a, r in owners.items() if (r["owner_kind"], r["role"]) == ("mixer", "deposit")
    ]
    tagged = [tag["address"] for tag in tags]
    assert set(tagged) <= set(deposits)
    assert len(tagged) == round(0.3 * len(deposits)) >= 1


def test_market_tags_name_only_markets_with_a_wallet(
    built: Built, owners: dict[str, dict[str, Any]]
) -> None:
    header, tags = _tags(built, "markets.yaml")
    assert header["confidence"] == "authority_data"
    walletless = {m.market_id for m in built.inp.markets if m.walletless}
    labels = Counter()
    for tag in tags:
        row = owners[tag["address"]]
        assert (row["owner_kind"], row["owner_id"], row["role"]) == (
            "market",
            tag["label"],
            "hot_wallet",
        )
        labels[tag["label"]] += 1
    assert set(labels) == {m.market_id for m in built.inp.markets} - walletless
    assert all(1 <= n <= 3 for n in labels.values())
