"""Input: pay-to addresses, rejected input, and random scenarios that must still hold up."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spector.errors import InputError
from spector.model import decode_btc_address
from spector.sim.chain import (
    ChainActor,
    ChainInput,
    ChainMarket,
    ChainSale,
    ChainVendor,
    build_chain,
    payto_address,
    vendor_payto_label,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from conftest import Block, Replay

FINAL = ("landed:", "stuck:", "pending:")


def test_payto_address_is_a_deterministic_regtest_p2wpkh() -> None:
    address = payto_address(5, vendor_payto_label("acct-1"))
    assert address.startswith("bcrt1q")
    decoded = decode_btc_address(address)
    assert (decoded.network, decoded.script_type, len(decoded.program)) == ("regtest", "p2wpkh", 20)
    assert payto_address(5, vendor_payto_label("acct-1")) == address
    assert payto_address(6, vendor_payto_label("acct-1")) != address
    assert payto_address(5, vendor_payto_label("acct-2")) != address
    assert vendor_payto_label("acct-1") == "vendor:acct-1:payto"


def _replace(inp: ChainInput, **changes: object) -> ChainInput:
    return dataclasses.replace(inp, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("days", "days is 0"),
        ("cashout", "has cashout 'hawala'"),
        ("unknown_vendor", "names vendor 'nobody'"),
        ("payto_on_wallet", "payto_address on a market with a wallet"),
        ("missing_payto", "has no payto_address"),
        ("bad_payto", "not a valid regtest segwit address"),
        ("taproot_payto", "is not P2WPKH"),
        ("late_sale", "is on day 10"),
        ("dust_sale", "amount is 545 sat"),
        ("duplicate_sale", "duplicate sale_id"),
        ("no_exchange", "no exchanges"),
    ],
)
def test_bad_input_is_rejected(
    make_scenario: Callable[..., ChainInput], tmp_path: Path, change: str, message: str
) -> None:
    inp = make_scenario()
    sale = inp.sales[0]
    vendors = list(inp.vendors)
    walletless = next(i for i, v in enumerate(vendors) if v.payto_address)
    wallet = next(i for i, v in enumerate(vendors) if not v.payto_address)
    bad = {
        "days": lambda: _replace(inp, days=0),
        "cashout": lambda: _replace(inp, actors=(*inp.actors, ChainActor("x", "hawala"))),
        "unknown_vendor": lambda: _replace(
            inp, sales=(dataclasses.replace(sale, account_id="nobody"),)
        ),
        "payto_on_wallet": lambda: _set_vendor(
            inp, wallet, payto_address=vendors[walletless].payto_address
        ),
        "missing_payto": lambda: _set_vendor(inp, walletless, payto_address=None),
        "bad_payto": lambda: _set_vendor(inp, walletless, payto_address="bcrt1qnotanaddress"),
        "taproot_payto": lambda: _set_vendor(
            inp, walletless, payto_address="bcrt1p" + "q" * 52 + "m3usuw"
        ),
        "late_sale": lambda: _replace(inp, sales=(dataclasses.replace(sale, day=10),)),
        "dust_sale": lambda: _replace(inp, sales=(dataclasses.replace(sale, amount_sat=545),)),
        "duplicate_sale": lambda: _replace(inp, sales=(sale, sale)),
        "no_exchange": lambda: _replace(inp, exchanges=()),
    }[change]()
    with pytest.raises(InputError, match=message):
        build_chain(bad, tmp_path)
    assert not (tmp_path / "addresses.parquet").exists()


def _set_vendor(inp: ChainInput, index: int, **changes: object) -> ChainInput:
    vendors = list(inp.vendors)
    vendors[index] = dataclasses.replace(vendors[index], **changes)  # type: ignore[arg-type]
    return _replace(inp, vendors=tuple(vendors))


def test_accounts_on_sites_without_payments_are_ignored(
    make_scenario: Callable[..., ChainInput], tmp_path: Path
) -> None:
    inp = make_scenario()
    forum = ChainVendor("forum-user", "a-forum", "a-direct", None)
    truth = build_chain(_replace(inp, vendors=(*inp.vendors, forum)), tmp_path)
    assert truth.blocks == 101 + inp.days * 6


def _random_input(data: st.DataObject) -> ChainInput:
    seed = data.draw(st.integers(0, 2**32))
    days = data.draw(st.integers(1, 12))
    n_markets = data.draw(st.integers(1, 4))
    markets = tuple(
        ChainMarket(
            f"m{i}",
            data.draw(st.booleans()),
            data.draw(st.none() | st.integers(0, days + 2)),
        )
        for i in range(n_markets)
    )
    actors = tuple(
        ChainActor(f"a{i}", method)
        for i, method in enumerate(("direct", "peel", "mixer", "coinjoin"))
    )
    vendors = []
    for i in range(data.draw(st.integers(1, 8))):
        market = markets[data.draw(st.integers(0, n_markets - 1))]
        payto = payto_address(seed, vendor_payto_label(f"v{i}")) if market.walletless else None
        actor = actors[data.draw(st.integers(0, 3))]
        vendors.append(ChainVendor(f"v{i}", market.market_id, actor.actor_id, payto))
    amounts = st.one_of(st.integers(546, 20_000), st.integers(20_000, 50_000_000))
    sales = []
    for i in range(data.draw(st.integers(0, 50))):
        vendor = vendors[data.draw(st.integers(0, len(vendors) - 1))]
        sales.append(
            ChainSale(
                f"s{i}",
                vendor.market_id,
                vendor.account_id,
                f"b{data.draw(st.integers(0, 9))}",
                data.draw(st.integers(0, days - 1)),
                data.draw(amounts),
            )
        )
    return ChainInput(
        seed,
        days,
        markets,
        tuple(vendors),
        actors,
        tuple(sales),
        exchanges=tuple(f"X{i}" for i in range(data.draw(st.integers(1, 4)))),
        background_tx_per_day=data.draw(st.integers(0, 30)),
    )


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_random_scenarios_keep_the_books(
    data: st.DataObject,
    reader: Callable[[Iterable[Path]], list[Block]],
    replayer: Callable[[list[Block]], Replay],
    decode_spk: Callable[[bytes], str | None],
) -> None:
    inp = _random_input(data)
    with tempfile.TemporaryDirectory() as tmp:
        truth = build_chain(inp, Path(tmp))
        blocks = reader(truth.blk_files)
        owners = set(pq.read_table(truth.addresses_path).column("address").to_pylist())
        trails = pq.read_table(truth.sale_paths_path).to_pylist()
    assert replayer(blocks).problems == []
    on_chain = {decode_spk(spk) for b in blocks for tx in b.txs for _, spk in tx.outputs}
    assert owners == on_chain - {None}
    last: dict[str, str] = {}
    for row in trails:
        last[row["sale_id"]] = row["note"]
    assert set(last) == {sale.sale_id for sale in inp.sales}
    assert all(note.startswith(FINAL) for note in last.values())
    closing = {m.market_id for m in inp.markets if m.close_day is not None}
    for sale in inp.sales:
        if last[sale.sale_id].startswith("stuck:"):
            assert sale.market_id in closing
