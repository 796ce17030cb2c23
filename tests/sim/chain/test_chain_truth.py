"""The ground truth matches the chain: owners, sale trails, mixer chips, coinjoins."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Built, Tx

OWNER_KINDS = {"buyer", "market", "vendor", "mixer", "coinjoin", "exchange", "background", "miner"}
KINDS = {
    "coinbase",
    "funding",
    "deposit",
    "payout",
    "cashout",
    "peel",
    "mixer_in",
    "mixer_split",
    "mixer_out",
    "coinjoin",
    "sweep",
    "background",
}
CHIP_VALUES = {100_000 << n for n in range(13)}


@pytest.fixture(scope="module")
def owners(built: Built) -> dict[str, dict[str, Any]]:
    return {row["address"]: row for row in built.tables["addresses"]}


@pytest.fixture(scope="module")
def txs(built: Built) -> dict[str, Tx]:
    return {tx.txid: tx for block in built.blocks for tx in block.txs}


@pytest.fixture(scope="module")
def kinds(built: Built) -> dict[str, str]:
    return {row["txid"]: row["kind"] for row in built.tables["transactions"]}


@pytest.fixture(scope="module")
def trails(built: Built) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in built.tables["sale_paths"]:
        out[row["sale_id"]].append(row)
    return out


def test_every_address_on_chain_has_an_owner(
    built: Built, owners: dict[str, dict[str, Any]], decode_spk: Callable[[bytes], str | None]
) -> None:
    seen = set()
    for height, block in enumerate(built.blocks):
        for tx in block.txs:
            for _, spk in tx.outputs:
                address = decode_spk(spk)
                if address is None:
                    assert spk.startswith(bytes.fromhex("6a24aa21a9ed"))  # witness commitment
                    continue
                seen.add(address)
                row = owners[address]
                if tx.is_coinbase and height > 0:
                    assert row["owner_kind"] == "miner"
    assert seen == set(owners)  # and nobody owns an address that never appears
    assert len(owners) == len(built.tables["addresses"]) == built.truth.addresses
    for row in owners.values():
        assert row["owner_kind"] in OWNER_KINDS
        assert (row["actor_id"] is not None) == (row["owner_kind"] == "vendor")
        assert row["owner_id"]
        assert row["role"]
    vendors = {v.account_id: v.actor_id for v in built.inp.vendors}
    for row in owners.values():
        if row["owner_kind"] == "vendor":
            assert vendors[row["owner_id"]] == row["actor_id"]
    assert {row["owner_kind"] for row in owners.values()} == OWNER_KINDS


def test_transaction_kinds(built: Built, kinds: dict[str, str]) -> None:
    counts = Counter(kinds.values())
    assert set(counts) == KINDS
    assert counts["deposit"] == len(built.inp.sales)


def test_every_trail_follows_the_chain(
    built: Built,
    trails: dict[str, list[dict[str, Any]]],
    txs: dict[str, Tx],
    kinds: dict[str, str],
    owners: dict[str, dict[str, Any]],
    decode_spk: Callable[[bytes], str | None],
) -> None:
    assert set(trails) == {sale.sale_id for sale in built.inp.sales}
    for sale in built.inp.sales:
        trail = trails[sale.sale_id]
        assert [row["hop"] for row in trail] == list(range(len(trail)))
        assert kinds[trail[0]["txid"]] == "funding"
        assert owners[trail[0]["address"]]["owner_kind"] == "buyer"
        assert owners[trail[0]["address"]]["owner_id"] == sale.buyer_id
        assert kinds[trail[1]["txid"]] == "deposit"
        for row in trail:
            paid_to = {decode_spk(spk) for _, spk in txs[row["txid"]].outputs}
            assert row["address"] in paid_to, row
        for before, after in itertools.pairwise(trail):
            if kinds[after["txid"]] == "mixer_out":
                assert kinds[before["txid"]] == "mixer_in"
                continue  # the mixer pays from its own pool: no link on chain, by design
            spent = {
                decode_spk(txs[i.prev_txid].outputs[i.vout][1]) for i in txs[after["txid"]].inputs
            }
            assert before["address"] in spent, (before, after)


def test_trails_end_at_an_exchange_or_stuck(
    built: Built,
    trails: dict[str, list[dict[str, Any]]],
    owners: dict[str, dict[str, Any]],
    txs: dict[str, Tx],
    decode_spk: Callable[[bytes], str | None],
) -> None:
    unspent_addresses = {
        decode_spk(txs[txid].outputs[vout][1]) for txid, vout in built.ledger.unspent()
    }
    kinds = {row["txid"]: row["kind"] for row in built.tables["transactions"]}
    swept = {  # deposit address -> kinds of the transactions that spent it
        decode_spk(txs[txid].outputs[vout][1]): kinds[spender]
        for (txid, vout), spender in built.ledger.spent_by.items()
    }
    closing = {m.market_id: m.close_day for m in built.inp.markets}
    ends = Counter()
    for sale in built.inp.sales:
        last = trails[sale.sale_id][-1]
        owner = owners[last["address"]]
        status = last["note"].split(":", 1)[0]
        ends[status] += 1
        if status == "landed":  # the exchange swept the deposit into its hot wallet
            assert swept.get(last["address"]) == "sweep", last
        else:
            assert last["address"] in unspent_addresses
        assert not any(
            r["note"].startswith(("landed:", "stuck:")) for r in trails[sale.sale_id][:-1]
        )
        if status == "landed":
            assert (owner["owner_kind"], owner["role"]) == ("exchange", "deposit")
        else:
            assert status == "stuck", last
            assert closing[sale.market_id] is not None
            assert (owner["owner_kind"], owner["owner_id"]) == ("market", sale.market_id)
            assert owner["role"] == "escrow_deposit"
    assert ends["landed"] > ends["stuck"] > 0
    late = [s for s in built.inp.sales if s.market_id == "m-closing" and s.day >= 5]
    assert late
    assert all(trails[s.sale_id][-1]["note"].startswith("stuck:") for s in late)


def test_every_cashout_method_lands(built: Built, trails: dict[str, list[dict[str, Any]]]) -> None:
    method = {a.actor_id: a.cashout for a in built.inp.actors}
    by_account = {v.account_id: method[v.actor_id] for v in built.inp.vendors}
    marks = {
        "direct": "direct cash-out",
        "peel": "end of a peel chain",
        "mixer": "ChipMixer paid out",
        "coinjoin": "post-mix output",
    }
    landed = Counter()
    for sale in built.inp.sales:
        note = trails[sale.sale_id][-1]["note"]
        if note.startswith("landed:"):
            wanted = marks[by_account[sale.account_id]]
            assert wanted in note, note
            landed[by_account[sale.account_id]] += 1
    assert set(landed) == set(marks)


def test_walletless_sales_pay_the_vendor_directly(
    built: Built, trails: dict[str, list[dict[str, Any]]], owners: dict[str, dict[str, Any]]
) -> None:
    payto = {v.account_id: v.payto_address for v in built.inp.vendors}
    for sale in built.inp.sales:
        deposit = trails[sale.sale_id][1]["address"]
        if sale.market_id == "m-walletless":
            assert deposit == payto[sale.account_id]
            assert owners[deposit]["role"] == "payto"
        else:
            assert owners[deposit]["role"] == "escrow_deposit"
            assert owners[deposit]["owner_id"] == sale.market_id


def test_markets_pay_vendors_minus_commission_until_they_close(
    built: Built,
    txs: dict[str, Tx],
    kinds: dict[str, str],
    owners: dict[str, dict[str, Any]],
    decode_spk: Callable[[bytes], str | None],
) -> None:
    day = {row["txid"]: row["day"] for row in built.tables["transactions"]}
    payouts = 0
    for txid, kind in kinds.items():
        if kind != "payout":
            continue
        payouts += 1
        tx = txs[txid]
        sources = {
            owners[str(decode_spk(txs[i.prev_txid].outputs[i.vout][1]))]["owner_id"]
            for i in tx.inputs
        }
        (market,) = sources
        if market == "m-closing":
            assert day[txid] < 5
        escrow = sum(
            txs[i.prev_txid].outputs[i.vout][0]
            for i in tx.inputs
            if owners[str(decode_spk(txs[i.prev_txid].outputs[i.vout][1]))]["role"]
            == "escrow_deposit"
        )
        to_vendors = sum(
            value
            for value, spk in tx.outputs
            if owners[str(decode_spk(spk))]["owner_kind"] == "vendor"
        )
        assert 0.93 * escrow < to_vendors < 0.97 * escrow
    assert payouts


def test_mixer_chips_are_binary_thousandths(
    txs: dict[str, Tx],
    kinds: dict[str, str],
    owners: dict[str, dict[str, Any]],
    decode_spk: Callable[[bytes], str | None],
) -> None:
    chips = 0
    for txid, tx in txs.items():
        for value, spk in tx.outputs:
            address = decode_spk(spk)
            if address is not None and owners[address]["role"] == "chip":
                assert value in CHIP_VALUES, value
                chips += 1
        if kinds[txid] == "mixer_out":
            for txin in tx.inputs:
                value, spk = txs[txin.prev_txid].outputs[txin.vout]
                assert owners[str(decode_spk(spk))]["role"] == "chip"
                assert value in CHIP_VALUES
            (out,) = tx.outputs
            assert owners[str(decode_spk(out[1]))]["owner_kind"] == "exchange"
    assert chips


def test_coinjoins_have_five_equal_outputs_from_five_owners(
    txs: dict[str, Tx],
    kinds: dict[str, str],
    owners: dict[str, dict[str, Any]],
    decode_spk: Callable[[bytes], str | None],
) -> None:
    joins = [txs[txid] for txid, kind in kinds.items() if kind == "coinjoin"]
    assert joins
    for tx in joins:
        value, count = Counter(value for value, _ in tx.outputs).most_common(1)[0]
        assert count >= 5
        assert value in {100_000, 1_000_000, 5_000_000, 50_000_000}
        payers = set()
        for txin in tx.inputs:
            row = owners[str(decode_spk(txs[txin.prev_txid].outputs[txin.vout][1]))]
            payers.add((row["owner_kind"], row["owner_id"]))
        assert len(payers) >= 5
        assert sum(1 for kind, _ in payers if kind == "vendor") == 1


def test_merges_and_splits_are_explained(trails: dict[str, list[dict[str, Any]]]) -> None:
    notes = [row["note"] for trail in trails.values() for row in trail]
    assert any("commission" in n and "% of the output" in n for n in notes)
    assert any("peeled off" in n and "still on the chain" in n for n in notes)
    assert any("no on-chain link" in n for n in notes)
    assert any("equal outputs" in n and "proportionally" in n for n in notes)


def test_mixer_payouts_list_every_mixer_out_and_the_trail_follows_the_largest(
    built: Built,
    txs: dict[str, Tx],
    kinds: dict[str, str],
    owners: dict[str, dict[str, Any]],
    trails: dict[str, list[dict[str, Any]]],
    decode_spk: Callable[[bytes], str | None],
) -> None:
    import pyarrow.parquet as pq

    rows = pq.read_table(built.truth.mixer_payouts_path).to_pylist()
    assert sorted(r["txid"] for r in rows) == sorted(
        t for t, k in kinds.items() if k == "mixer_out"
    )
    per_deposit: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        ((value, spk),) = txs[row["txid"]].outputs
        assert (value, decode_spk(spk)) == (row["value_sat"], row["address"])
        owner = owners[row["address"]]
        assert (owner["owner_kind"], owner["owner_id"]) == ("exchange", row["exchange"])
        assert owners[row["deposit_address"]]["role"] == "deposit"
        per_deposit[row["deposit_address"]].append(row)
    account = {s.sale_id: s.account_id for s in built.inp.sales}
    followed = 0
    for sale_id, trail in trails.items():
        if kinds[trail[-1]["txid"]] != "mixer_out":
            continue
        deposit = trail[-2]["address"]
        paid = per_deposit[deposit]
        assert {r["account_id"] for r in paid} == {account[sale_id]}
        assert trail[-1]["txid"] == max(paid, key=lambda r: r["value_sat"])["txid"]
        followed += 1
    assert followed
