"""Exchanges sweep their deposits into their reused hot-wallet address: one wallet each.

The common-input clustering here is the test's own (a dict union-find over the replayed
chain), independent of ``spector.chain``'s.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Built, Tx


@pytest.fixture(scope="module")
def owners(built: Built) -> dict[str, dict[str, Any]]:
    return {row["address"]: row for row in built.tables["addresses"]}


@pytest.fixture(scope="module")
def kinds(built: Built) -> dict[str, str]:
    return {row["txid"]: row["kind"] for row in built.tables["transactions"]}


@pytest.fixture(scope="module")
def txs(built: Built) -> dict[str, Tx]:
    return {tx.txid: tx for block in built.blocks for tx in block.txs}


def _spent_address(txs: dict[str, Tx], decode: Callable[[bytes], str | None], txin: Any) -> str:
    return str(decode(txs[txin.prev_txid].outputs[txin.vout][1]))


def test_every_deposit_is_swept_by_its_exchange(
    built: Built,
    owners: dict[str, dict[str, Any]],
    kinds: dict[str, str],
    txs: dict[str, Tx],
    decode_spk: Callable[[bytes], str | None],
) -> None:
    deposits = 0
    for (txid, vout), spender in built.ledger.spent_by.items():
        row = owners[str(decode_spk(txs[txid].outputs[vout][1]))]
        if (row["owner_kind"], row["role"]) == ("exchange", "deposit"):
            deposits += 1
            assert kinds[spender] == "sweep"
    unspent_deposits = []
    for txid, vout in built.ledger.unspent():
        row = owners.get(str(decode_spk(txs[txid].outputs[vout][1])), {})
        if (row.get("owner_kind"), row.get("role")) == ("exchange", "deposit"):
            unspent_deposits.append((txid, vout))
    assert deposits > 20
    assert unspent_deposits == []  # the last day's sweep takes the last day's deposits too


def test_a_sweep_pays_one_output_to_the_reused_hot_address(
    owners: dict[str, dict[str, Any]],
    kinds: dict[str, str],
    txs: dict[str, Tx],
    decode_spk: Callable[[bytes], str | None],
) -> None:
    main_of: dict[str, set[str]] = defaultdict(set)
    sweeps = Counter()
    for txid, kind in kinds.items():
        if kind != "sweep":
            continue
        tx = txs[txid]
        (out,) = tx.outputs
        dest = owners[str(decode_spk(out[1]))]
        assert (dest["owner_kind"], dest["role"]) == ("exchange", "hot_wallet")
        main_of[dest["owner_id"]].add(str(decode_spk(out[1])))
        sources = [owners[_spent_address(txs, decode_spk, i)] for i in tx.inputs]
        exchange = ("exchange", dest["owner_id"])
        assert {(s["owner_kind"], s["owner_id"]) for s in sources} == {exchange}
        roles = Counter(s["role"] for s in sources)
        assert roles["hot_wallet"] <= 1, roles
        assert roles["deposit"] >= 1, roles
        sweeps[dest["owner_id"]] += 1
    assert set(sweeps) == {"Exchange A", "Exchange B", "Exchange C"}
    assert all(len(mains) == 1 for mains in main_of.values())  # one reused address each


def _components(
    built: Built, kinds: dict[str, str], txs: dict[str, Tx], decode: Callable[[bytes], str | None]
) -> dict[str, str]:
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for block in built.blocks:
        for tx in block.txs:
            if tx.is_coinbase or kinds[tx.txid] == "coinjoin":
                continue
            first, *rest = (_spent_address(txs, decode, i) for i in tx.inputs)
            for address in rest:
                parent[find(address)] = find(first)
    return {address: find(address) for address in parent}


def test_common_input_makes_each_exchange_one_wallet_and_joins_no_two_owners(
    built: Built,
    owners: dict[str, dict[str, Any]],
    kinds: dict[str, str],
    txs: dict[str, Tx],
    decode_spk: Callable[[bytes], str | None],
) -> None:
    comp = _components(built, kinds, txs, decode_spk)
    members: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for address, root in comp.items():
        members[root].add((owners[address]["owner_kind"], owners[address]["owner_id"]))
    assert all(len(found) == 1 for found in members.values())  # no false merge
    for name in ("Exchange A", "Exchange B", "Exchange C"):
        deposits = [
            a
            for a, r in owners.items()
            if (r["owner_kind"], r["owner_id"], r["role"]) == ("exchange", name, "deposit")
        ]
        assert deposits
        assert len({comp[a] for a in deposits}) == 1, name  # every deposit, one cluster
