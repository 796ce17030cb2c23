"""Tracing on hand-built chains whose amounts are worked out by hand: the three policies
on one crafted transaction, backward traces, stops at tags, hop limit, dust, unspent,
peel chains, a ChipMixer-style mixer, and the source kinds."""

from __future__ import annotations

import math

import pytest
from tests.chain.trace_chain import BTC, regtest_address, tag
from tests.chain.trace_scene import build_scene

from spector.chain._trace import trace
from spector.errors import InputError, UsageError
from spector.store import Workspace


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp("trace")
    with Workspace.init(root / "ws") as ws:
        yield build_scene(ws, root / "blk")


def _reached(result) -> dict[str, int]:
    return {r["label"]: r["amount_sat"] for r in result.reached}


def _shares_add_up(result) -> None:
    total = sum(r["share"] for r in result.reached) + sum(
        u["share"] for u in result.untraced.values()
    )
    assert math.isclose(total, 1.0, abs_tol=1e-9), total
    sat = sum(r["amount_sat"] for r in result.reached) + sum(
        u["amount_sat"] for u in result.untraced.values()
    )
    assert abs(sat - result.as_dict()["total_sat"]) <= len(result.reached) + len(result.untraced)


# -- the three policies on the crafted transaction -----------------------------------------


def test_haircut_splits_in_proportion(scene):
    r = trace(scene.ws, scene.A, policy="haircut")
    # 30 of 50 BTC in are tainted: 3/5 of each output, and 3/5 of the fee
    assert _reached(r) == {"Ex One": 600_000_000, "Ex Two": 2_394_000_000}
    assert r.untraced == {
        "fee": {"amount_sat": 6_000_000, "share": pytest.approx(0.002), "outputs": 1}
    }
    assert r.as_dict()["total_sat"] == 30 * BTC
    assert r.share_of("Ex One") == pytest.approx(0.2)
    _shares_add_up(r)


def test_fifo_fills_outputs_in_order(scene):
    r = trace(scene.ws, scene.A, policy="fifo")
    # the first 30 BTC in fill E1 (10) and the first 20 of E2; the fee comes last (clean)
    assert _reached(r) == {"Ex One": 10 * BTC, "Ex Two": 20 * BTC}
    assert r.untraced == {}
    _shares_add_up(r)


def test_poison_taints_every_output_whole(scene):
    r = trace(scene.ws, scene.A, policy="poison")
    assert _reached(r) == {"Ex One": 10 * BTC, "Ex Two": 3_990_000_000}
    assert r.as_dict()["total_sat"] == 4_990_000_000  # shares are of what poison tainted
    assert r.share_of("Ex One") == pytest.approx(10 / 49.9)
    _shares_add_up(r)


def test_json_contract(scene):
    d = trace(scene.ws, scene.A).as_dict()
    assert {"policy", "hops", "reached", "edges"} <= set(d)
    assert (d["policy"], d["hops"]) == ("haircut", 5)
    assert set(d["reached"][0]) >= {"label", "category", "amount_sat", "share"}
    assert d["reached"][0]["category"] == "exchange"
    edge = next(e for e in d["edges"] if e["to"] == scene.E1)
    assert edge == {
        "from": scene.A,
        "to": scene.E1,
        "txid": edge["txid"],
        "amount_sat": 600_000_000,
        "time": edge["time"],
        "rule": "haircut",
        "hop": 1,
        "weight": 1.0,
    }
    assert edge["time"].endswith("Z")
    assert edge["time"][:4] == "2023"
    reached = d["reached"][0]
    assert reached["first_time"] == reached["last_time"] == edge["time"]
    source = next(n for n in d["nodes"] if n["id"] == scene.A)
    assert source["roles"] == ["source"]
    e1 = next(n for n in d["nodes"] if n["id"] == scene.E1)
    assert e1["service"] == "Ex One"
    assert e1["tags"][0]["label"] == "Ex One"
    assert e1["amount_in_sat"] == 600_000_000


# -- backward -------------------------------------------------------------------------------


def test_backward_policies(scene):
    ws, e1 = scene.ws, scene.E1
    hair = trace(ws, e1, direction="backward", to_tags=["exchange"])
    # E1's 10 BTC: 2/5 from X, funded by the tagged exchange; 3/5 from A, mined
    assert _reached(hair) == {"Funding Ex": 4 * BTC}
    assert hair.untraced["coinbase"]["amount_sat"] == 6 * BTC
    fifo = trace(ws, e1, direction="backward", policy="fifo", to_tags=["exchange"])
    assert _reached(fifo) == {}  # E1 is the first 10 BTC: all from A
    assert fifo.untraced["coinbase"]["amount_sat"] == 10 * BTC
    poison = trace(ws, e1, direction="backward", policy="poison", to_tags=["exchange"])
    assert _reached(poison) == {"Funding Ex": 50 * BTC}
    assert poison.untraced["coinbase"]["amount_sat"] == 50 * BTC
    for r in (hair, fifo, poison):
        _shares_add_up(r)
    edge = next(e for e in hair.edges if e["to"] == e1 and e["from"] == scene.X)
    assert edge["amount_sat"] == 4 * BTC  # edges point the way the money went


# -- limits ----------------------------------------------------------------------------------


def test_hop_limit_dust_unspent_fee(scene):
    full = trace(scene.ws, scene.G0, hops=5)
    assert full.reached == []
    assert {k: v["amount_sat"] for k, v in full.untraced.items()} == {
        "dust": 500,
        "fee": 302_500,
        "unspent": 4_999_697_000,
    }
    _shares_add_up(full)
    short = trace(scene.ws, scene.G0, hops=1)
    assert {k: v["amount_sat"] for k, v in short.untraced.items()} == {
        "dust": 500,
        "fee": 100_500,
        "hop_limit": 4_999_899_000,
    }
    assert short.as_dict()["untraced_outputs"][0]["kind"] == "hop_limit"
    no_dust = trace(scene.ws, scene.G0, hops=5, dust=0)
    assert no_dust.untraced["unspent"]["amount_sat"] == 4_999_697_000 + 400
    assert no_dust.untraced["fee"]["amount_sat"] == 302_600


# -- peel chains and mixers -----------------------------------------------------------------


def test_peel_chain_counts_as_one_hop(scene):
    r = trace(scene.ws, scene.V0, hops=1)
    assert _reached(r) == {"Ex Three": 699_600_000}
    assert r.untraced["unspent"]["amount_sat"] == 3 * BTC  # the three peels
    assert {e["rule"] for e in r.edges} == {"peel"}
    assert [e["to"] for e in r.edges if e["hop"] == 0] == scene.V  # the chain's change
    _shares_add_up(r)
    plain = trace(scene.ws, scene.V0, hops=2, follow_peels=False)
    assert _reached(plain) == {}
    assert plain.untraced["hop_limit"]["amount_sat"] == 799_800_000  # stopped at V2


def test_mixer_stop_detected_and_tagged(scene):
    r = trace(scene.ws, scene.M)
    assert _reached(r) == {"mixer (detected chip split)": 3_000_000}
    assert r.reached[0]["category"] == "mixing_service"
    tag(scene.ws, scene.D, "ChipMixer", "mixing_service")
    try:
        tagged = trace(scene.ws, scene.M, to_tags=["exchange", "mixer"])
        assert _reached(tagged) == {"ChipMixer": 3_000_000}
    finally:
        scene.ws.store.con.execute("DELETE FROM chain_tags WHERE label = 'ChipMixer'")


def test_mixer_followed_probabilistically(scene):
    r = trace(scene.ws, scene.M, to_tags=["exchange"])
    hops = r.as_dict()["mixer_hops"]
    assert len(hops) == 1
    assert hops[0]["at"] == scene.D
    cands = hops[0]["candidates"]
    assert [c["rank"] for c in cands] == [1, 2]
    assert cands[0]["amount_sat"] == 2_899_000  # chips out about the deposit in: first
    assert cands[0]["weight"] > 0.95 > cands[1]["weight"]
    assert math.isclose(sum(c["weight"] for c in cands), 1.0, abs_tol=1e-6)
    got = _reached(r)
    assert got["Ex Four"] == pytest.approx(3_000_000 * cands[0]["weight"], abs=2)
    assert got["Ex Five"] == pytest.approx(3_000_000 * cands[1]["weight"], abs=2)
    mixer_edges = [e for e in r.edges if e["rule"] == "mixer"]
    assert {e["from"] for e in mixer_edges} == {scene.D}
    assert sorted(e["weight"] for e in mixer_edges) == pytest.approx(
        sorted(c["weight"] for c in cands), abs=1e-6
    )
    _shares_add_up(r)


def test_mixer_hop_under_fifo_keeps_the_books(scene):
    r = trace(scene.ws, scene.M, policy="fifo", to_tags=["exchange"])
    (hop,) = r.as_dict()["mixer_hops"]
    w = hop["candidates"][0]["weight"]
    # FIFO fills the payout's one output (2,899,000 sat) and no more: the rest of the
    # deposit's taint that the weight sends that way stays in the mixer, untraced
    assert _reached(r)["Ex Four"] == 2_899_000
    assert r.untraced["mixer"]["amount_sat"] == pytest.approx(3_000_000 * w - 2_899_000, abs=2)
    _shares_add_up(r)


# -- sources -----------------------------------------------------------------------------------


def test_outpoint_listing_vendor_and_cluster_sources(scene):
    ws = scene.ws
    by_output = trace(ws, f"{scene.ta}:0")
    assert _reached(by_output) == _reached(trace(ws, scene.A))
    listing = trace(ws, "listing:lst-1")
    assert _reached(listing) == _reached(by_output)
    vendor = trace(ws, "vendor:vend-1")
    assert _reached(vendor) == {
        "Ex One": 600_000_000,
        "Ex Two": 2_394_000_000,
        "Ex Three": 699_600_000,
    }
    assert vendor.as_dict()["total_sat"] == 40 * BTC
    assert _reached(trace(ws, "cluster:900")) == _reached(vendor)
    both = trace(ws, [scene.A, scene.V0])
    assert _reached(both) == _reached(vendor)


def test_money_inside_the_source_is_counted_once(scene):
    r = trace(scene.ws, scene.W)
    d = r.as_dict()
    # 10 BTC from the coinbase and 5.999 back from Y: everything ends at E6, or is the
    # part of Y's repayment that was W's own money coming back, or fees
    assert d["total_sat"] == 1_599_900_000
    assert _reached(r) == {"Ex Six": 999_700_000}
    assert r.untraced["returned"]["amount_sat"] == 599_900_000
    assert r.untraced["fee"]["amount_sat"] == 300_000
    _shares_add_up(r)


def test_a_set_source_backward_follows_only_money_from_outside(scene):
    back = trace(scene.ws, scene.Q, direction="backward", to_tags=["exchange"])
    # Q's second output is 1/3 the exchange's money: only that third is traced back
    assert _reached(back) == {"Zed Ex": round(1_499_900_000 / 3)}
    assert back.untraced == {
        "coinbase": {"amount_sat": 10 * BTC, "share": pytest.approx(0.6667, abs=1e-4), "outputs": 1}
    }
    _shares_add_up(back)
    fwd = trace(scene.ws, scene.Q)
    assert fwd.as_dict()["total_sat"] == round(10 * BTC + 1_499_900_000 / 3)
    assert fwd.untraced["unspent"]["amount_sat"] == 1_499_900_000
    _shares_add_up(fwd)


def test_peel_chain_at_the_hop_limit_stops_its_peels(scene):
    r = trace(scene.ws, scene.S0, hops=1)
    # one hop to S1; the chain's change moves on for free, each peel would be hop 2,
    # and the chain's last step (to E8) too
    assert _reached(r) == {}
    assert {k: v["amount_sat"] for k, v in r.untraced.items()} == {
        "fee": 350_000,
        "hop_limit": 3 * BTC + 699_650_000,
    }
    assert r.untraced["hop_limit"]["outputs"] == 4  # S1, S2, S3 (a peel each) and S4
    assert trace(scene.ws, scene.S0, hops=2).share_of("Ex Eight") == pytest.approx(
        699_550_000 / 10 / BTC
    )


# -- bad input ---------------------------------------------------------------------------------


def test_bad_sources_and_options(scene):
    ws = scene.ws
    absent = regtest_address("nobody")  # a valid address no output pays
    with pytest.raises(InputError, match="does not appear in the chain tables"):
        trace(ws, absent)
    with pytest.raises(InputError, match="bad bech32"):
        trace(ws, absent[:-1] + ("q" if absent[-1] != "q" else "p"))
    with pytest.raises(InputError, match="no cluster 12345"):
        trace(ws, "cluster:12345")
    with pytest.raises(InputError, match="did you mean 'vend-1'"):
        trace(ws, "vendor:vend-2")
    with pytest.raises(InputError, match="did you mean 'cluster'"):
        trace(ws, "clustr:900")
    with pytest.raises(InputError, match="not in the chain tables"):
        trace(ws, "ab" * 32 + ":0")
    with pytest.raises(InputError, match="path target"):
        trace(ws, "category:exchange")
    with pytest.raises(InputError, match="did you mean 'exchange'"):
        trace(ws, scene.A, to_tags=["exchang"])
    with pytest.raises(UsageError, match="policy"):
        trace(ws, scene.A, policy="lifo")
    with pytest.raises(UsageError, match="--hops 0"):
        trace(ws, scene.A, hops=0)
    with pytest.raises(UsageError, match="direction"):
        trace(ws, scene.A, direction="sideways")
