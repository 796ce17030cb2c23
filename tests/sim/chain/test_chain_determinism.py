"""Same input, same bytes; blk files rotate at the size limit without changing the chain."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from spector.sim.chain import ChainInput, build_chain

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from conftest import Block, Built


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_two_builds_are_byte_identical(
    make_scenario: Callable[..., ChainInput], tmp_path: Path
) -> None:
    first = build_chain(make_scenario(11), tmp_path / "one")
    second = build_chain(make_scenario(11), tmp_path / "two")
    one, two = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert sorted(one) == [
        "addresses.parquet",
        "blocks/blk00000.dat",
        "mixer_payouts.parquet",
        "sale_paths.parquet",
        "tags/exchanges.yaml",
        "tags/markets.yaml",
        "tags/mixer.yaml",
        "transactions.parquet",
    ]
    assert one == two
    assert (first.blocks, first.transactions, first.addresses, first.tip_hash) == (
        second.blocks,
        second.transactions,
        second.addresses,
        second.tip_hash,
    )


def test_another_seed_gives_another_chain(
    make_scenario: Callable[..., ChainInput], built: Built, tmp_path: Path
) -> None:
    other = build_chain(make_scenario(12), tmp_path)
    assert other.tip_hash != built.truth.tip_hash
    assert _files(tmp_path)["blocks/blk00000.dat"] != built.truth.blk_files[0].read_bytes()


def test_blk_files_rotate_at_the_limit(
    built: Built,
    make_scenario: Callable[..., ChainInput],
    reader: Callable[[Iterable[Path]], list[Block]],
    tmp_path: Path,
) -> None:
    limit = 40_000
    truth = build_chain(make_scenario(), tmp_path, blk_max_bytes=limit)
    names = [path.name for path in truth.blk_files]
    assert len(names) > 3
    assert names == [f"blk{i:05d}.dat" for i in range(len(names))]
    assert sorted(p.name for p in (tmp_path / "blocks").iterdir()) == names
    for path in truth.blk_files:
        size = path.stat().st_size
        assert size <= limit or len(reader([path])) == 1
    whole = built.truth.blk_files[0].read_bytes()
    assert b"".join(path.read_bytes() for path in truth.blk_files) == whole
    assert [b.hash for b in reader(truth.blk_files)] == [b.hash for b in built.blocks]
    names = ("addresses", "sale_paths", "transactions", "mixer_payouts")
    for name in (f"{n}.parquet" for n in names):
        assert (tmp_path / name).read_bytes() == (built.out_dir / name).read_bytes()
    for path in built.truth.tag_files:
        assert (tmp_path / "tags" / path.name).read_bytes() == path.read_bytes()

    (tmp_path / "tags" / "stale.yaml").write_text("title: old\n")
    again = build_chain(make_scenario(), tmp_path)  # a rebuild leaves no stale files behind
    assert [p.name for p in again.blk_files] == ["blk00000.dat"]
    assert sorted(p.name for p in (tmp_path / "blocks").iterdir()) == ["blk00000.dat"]
    assert sorted(p.name for p in (tmp_path / "tags").iterdir()) == sorted(
        p.name for p in again.tag_files
    )
