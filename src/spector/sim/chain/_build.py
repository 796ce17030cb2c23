"""``build_chain``: run the days, mine the blocks, write the files."""

from __future__ import annotations

from pathlib import Path

from spector.errors import InputError
from spector.sim.chain._background import background_traffic
from spector.sim.chain._blocks import MAX_TX_WEIGHT_PER_BLOCK, BlockWriter, PendingTx, subsidy
from spector.sim.chain._cashout import mixer_payouts, vendor_cashouts
from spector.sim.chain._exchange import exchange_sweeps
from spector.sim.chain._flows import fund_buyers, market_payouts, pay_deposits
from spector.sim.chain._input import ChainInput, check_input
from spector.sim.chain._keys import P2PKH, P2WPKH
from spector.sim.chain._sim import BLOCKS_PER_DAY, EPOCH, MATURITY, Sim
from spector.sim.chain._tags import write_tagpacks
from spector.sim.chain._truth import ChainTruth, TxRow, write_truth

__all__ = ["build_chain"]

_DAY = 86_400
_POOLS = ("Pool A", "Pool B", "Pool C")
_PRELUDE_START = EPOCH - _DAY  # block 0; the maturity blocks follow 10 minutes apart
_JITTER = 1_200  # seconds a block may come after its nominal time


def build_chain(inp: ChainInput, out_dir: Path, *, blk_max_bytes: int = 128 << 20) -> ChainTruth:
    """Build the range's chain for ``inp`` under ``out_dir`` and return what was written.

    Writes ``out_dir/blocks/blk00000.dat`` (and further files of at most
    ``blk_max_bytes`` each, unless a single block is larger), ``addresses.parquet``,
    ``sale_paths.parquet``, ``transactions.parquet``, ``mixer_payouts.parquet`` and the
    range's TagPacks
    ``out_dir/tags/*.yaml`` (see ``_tags``). Existing ``blk*.dat`` files in
    ``out_dir/blocks`` and ``*.yaml`` in ``out_dir/tags`` are replaced. The same input
    always gives byte-identical files.
    """
    check_input(inp)
    if blk_max_bytes < 1:
        raise InputError(f"blk_max_bytes is {blk_max_bytes}", expected="a positive size")
    blocks_dir = Path(out_dir) / "blocks"
    blocks_dir.mkdir(parents=True, exist_ok=True)
    for stale in sorted(blocks_dir.glob("blk*.dat")):
        stale.unlink()
    sim = Sim(inp)
    writer = BlockWriter(blocks_dir, blk_max_bytes)
    rows: list[TxRow] = []
    try:
        _prelude(sim, writer, rows)
        for day in range(inp.days):
            sim.ledger.start_day(day)
            funding = fund_buyers(sim, sim.sales_by_day.get(day, []))
            pay_deposits(sim, sim.sales_by_day.get(day, []), funding)
            market_payouts(sim, day)
            vendor_cashouts(sim, day)
            mixer_payouts(sim, day)
            exchange_sweeps(sim)
            background_traffic(sim)
            _mine_day(sim, writer, day, rows)
    finally:
        writer.close()
    _close_trails(sim)
    addr_path, path_path, tx_path, mix_path = write_truth(
        Path(out_dir), sim.ledger.addresses, sim.ledger.paths, rows, sim.mix_paid
    )
    tag_files = write_tagpacks(sim, Path(out_dir) / "tags")
    return ChainTruth(
        blocks=writer.height,
        transactions=len(rows),
        addresses=len(sim.ledger.addresses),
        tip_hash=writer.tip[::-1].hex(),
        blk_files=tuple(writer.files),
        addresses_path=addr_path,
        sale_paths_path=path_path,
        transactions_path=tx_path,
        mixer_payouts_path=mix_path,
        tag_files=tag_files,
    )


def _miner_payout(sim: Sim, height: int, fees: int) -> list[tuple[bytes, int]]:
    pool = sim.rng.choice(_POOLS)
    stype = P2WPKH if sim.rng.random() < 0.8 else P2PKH
    key = sim.ledger.new_key(f"miner:{pool}", stype, "miner", pool, "coinbase")
    return [(key.spk, subsidy(height) + fees)]


def _prelude(sim: Sim, writer: BlockWriter, rows: list[TxRow]) -> None:
    """Block 0 pays the premine; 100 coinbase-only blocks let it mature before day 0."""
    premine = sim.premine()
    txid = writer.add_block(_PRELUDE_START, [], [(key.spk, value) for key, value, _ in premine])
    rows.append((txid[::-1].hex(), 0, -1, "coinbase", 0))
    coins = sim.ledger.add_coins(txid, [(key, value) for key, value, _ in premine])
    for coin, (_, _, wallet) in zip(coins, premine, strict=True):
        wallet.append(coin)
    for height in range(1, MATURITY + 1):
        txid = writer.add_block(_PRELUDE_START + height * 600, [], _miner_payout(sim, height, 0))
        rows.append((txid[::-1].hex(), height, -1, "coinbase", 0))


def _mine_day(sim: Sim, writer: BlockWriter, day: int, rows: list[TxRow]) -> None:
    """Put the day's transactions into its blocks, parents first, and mine them.

    A day has ``BLOCKS_PER_DAY`` blocks; a slot whose transactions exceed the block
    weight limit spills into extra blocks a few seconds apart (only with very busy days).
    """
    slots: list[list[PendingTx]] = [[] for _ in range(BLOCKS_PER_DAY)]
    for slot, tx in sim.ledger.pending:
        slots[slot].append(tx)
    spacing = _DAY // BLOCKS_PER_DAY
    for index, txs in enumerate(slots):
        time = EPOCH + day * _DAY + index * spacing + sim.rng.randrange(_JITTER)
        for extra, chunk in enumerate(_fill_blocks(txs)):
            height = writer.height
            payout = _miner_payout(sim, height, sum(tx.fee for tx in chunk))
            txid = writer.add_block(time + extra * 10, chunk, payout)
            rows.append((txid[::-1].hex(), height, day, "coinbase", 0))
            rows.extend((tx.txid[::-1].hex(), height, day, tx.kind, tx.fee) for tx in chunk)
    sim.ledger.pending = []


def _fill_blocks(txs: list[PendingTx]) -> list[list[PendingTx]]:
    """Cut ``txs`` in order into blocks under the weight limit (one block if empty)."""
    blocks: list[list[PendingTx]] = [[]]
    weight = 0
    for tx in txs:
        if blocks[-1] and weight + tx.weight > MAX_TX_WEIGHT_PER_BLOCK:
            blocks.append([])
            weight = 0
        blocks[-1].append(tx)
        weight += tx.weight
    return blocks


def _close_trails(sim: Sim) -> None:
    """Say where the money of each sale that did not reach an exchange is."""
    ledger = sim.ledger
    for sale in sim.sales:
        trail = ledger.paths[sale.sale_id]
        if sale.sale_id in ledger.landed or not trail:
            continue
        last = trail[-1]
        market = sim.markets[sale.market_id]
        owner = ledger.addresses[last[1]]
        if owner[0] == "market" and not market.open_on(sim.last_day):
            last[2] = (
                f"stuck: market {sale.market_id}'s wallet stopped on day "
                f"{market.spec.close_day} (seized or exit scam), so the money stays at this "
                f"escrow deposit address; {last[2]}"
            )
        else:
            last[2] = f"pending: still unspent when the range ends; {last[2]}"
