"""Money is conserved: no double spends, every fee positive and realistic, coinbases exact."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Block, Built, Replay

PRELUDE = 101


def subsidy(height: int) -> int:
    return (50 * 100_000_000) >> (height // 150)


def test_no_double_spend_no_unknown_input_no_free_tx(built: Built) -> None:
    assert built.ledger.problems == []
    spent = sum(len(tx.inputs) for b in built.blocks for tx in b.txs if not tx.is_coinbase)
    assert len(built.ledger.spent_by) == spent
    assert len(built.ledger.fees) == sum(len(b.txs) - 1 for b in built.blocks)


def test_fee_rates_are_realistic(built: Built) -> None:
    rates = []
    for block in built.blocks:
        for tx in block.txs[1:]:
            rate = built.ledger.fees[tx.txid] / tx.vsize
            rates.append(rate)
            assert 1 <= rate <= 100, (tx.txid, rate)
    assert max(rates) > 2 * min(rates)  # fees vary from day to day


def test_coinbases_claim_subsidy_plus_fees(built: Built) -> None:
    premine = sum(value for value, _ in built.blocks[0].txs[0].outputs)
    assert premine > sum(sale.amount_sat for sale in built.inp.sales)
    for height, block in enumerate(built.blocks[1:], start=1):
        fees = sum(built.ledger.fees[tx.txid] for tx in block.txs[1:])
        claimed = sum(value for value, _ in block.txs[0].outputs)
        assert claimed == subsidy(height) + fees


def test_nothing_spent_before_day_zero_and_premine_matures(built: Built) -> None:
    assert all(len(block.txs) == 1 for block in built.blocks[:PRELUDE])
    assert any(
        txin.prev_txid == built.blocks[0].txs[0].txid
        for tx in built.blocks[PRELUDE].txs[1:]
        for txin in tx.inputs
    )


def test_transactions_table_is_the_chain(built: Built) -> None:
    expected = []
    for height, block in enumerate(built.blocks):
        for tx in block.txs:
            fee = 0 if tx.is_coinbase else built.ledger.fees[tx.txid]
            expected.append((tx.txid, height, fee))
    rows = built.tables["transactions"]
    assert [(r["txid"], r["block_height"], r["fee_sat"]) for r in rows] == expected
    coinbases = [r for r in rows if r["kind"] == "coinbase"]
    assert len(coinbases) == len(built.blocks)
    assert all(r["fee_sat"] == 0 for r in coinbases)


def test_the_replay_catches_double_spends(
    built: Built, replayer: Callable[[list[Block]], Replay]
) -> None:
    blocks = copy.deepcopy(built.blocks[: PRELUDE + 8])
    victim = next(tx for b in blocks[PRELUDE:] for tx in b.txs[1:])
    blocks[-1].txs.append(victim)
    problems = replayer(blocks).problems
    assert any("double-spends" in p for p in problems)

    blocks = copy.deepcopy(built.blocks[: PRELUDE + 8])
    greedy = next(tx for b in blocks[PRELUDE:] for tx in b.txs[1:])
    value, spk = greedy.outputs[0]
    greedy.outputs[0] = (value + built.ledger.fees[greedy.txid], spk)
    problems = replayer(blocks).problems
    assert any("pays fee 0" in p for p in problems)
