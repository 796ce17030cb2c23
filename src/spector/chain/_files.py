"""Where blocks come from: Bitcoin Core blk files, raw block files, folders of them.

``scan`` reads only the framing and the 80-byte headers (the parser runs later, in
chain order), so indexing a data directory costs a read of its headers. blk files are
records of network magic, little-endian length, block; Core preallocates them, so a
file may end in zeros. Core 28 and later obfuscate blk files with the 8-byte key in
``blocks/xor.dat``; it is applied when present.
"""

from __future__ import annotations

import hashlib
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spector.chain._network import NETWORKS, Network, network_of_magic
from spector.errors import InputError, ParseError

__all__ = ["Header", "Source", "list_sources", "read_block", "scan"]

_RAW_SUFFIXES = {".raw", ".bin", ".block"}


@dataclass(frozen=True, slots=True)
class Source:
    """A file of blocks: ``kind`` is 'blk' or 'raw'; ``xor`` the obfuscation key or None."""

    path: Path
    kind: str
    xor: bytes | None = None


@dataclass(frozen=True, slots=True)
class Header:
    """A block found in a source, known by its header; ``offset`` is where the block
    starts in the file (after magic and length) and ``length`` its size."""

    hash: str
    prev_hash: str
    bits: int
    version: int
    source: Source
    offset: int
    length: int
    network: Network | None
    order: int  # position in the files, in reading order


def _xor_key(folder: Path) -> bytes | None:
    path = folder / "xor.dat"
    if not path.is_file():
        return None
    key = path.read_bytes()
    if len(key) != 8:
        raise InputError(f"xor.dat holds {len(key)} bytes", where=path, expected="8 bytes")
    return None if key == bytes(8) else key


def list_sources(paths: list[Path]) -> list[Source]:
    """The block files named by ``paths`` (files, folders, or a Core data directory), in
    reading order: each folder's blk*.dat by name, then raw block files by name."""
    out: list[Source] = []
    for path in paths:
        if not path.exists():
            raise InputError("no such file or folder", where=path)
        if path.is_file():
            kind = "raw" if path.suffix in _RAW_SUFFIXES else _sniff(path)
            out.append(Source(path, kind, _xor_key(path.parent) if kind == "blk" else None))
            continue
        folder = path / "blocks" if (path / "blocks").is_dir() else path
        key = _xor_key(folder)
        blk = sorted(folder.glob("blk*.dat"))
        other = sorted(
            p for p in folder.iterdir() if p.suffix in _RAW_SUFFIXES | {".blk"} and p.is_file()
        )
        if not blk and not other:
            raise InputError(
                "no block files here",
                where=path,
                expected="blk*.dat, *.blk, or raw blocks (*.raw, *.bin, *.block)",
            )
        out.extend(Source(p, "blk", key) for p in blk)
        for p in other:
            kind = "raw" if p.suffix in _RAW_SUFFIXES else _sniff(p)
            out.append(Source(p, kind, key if kind == "blk" else None))
    return out


def _sniff(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(4)
    if network_of_magic(head) is not None:
        return "blk"
    key = _xor_key(path.parent)
    if key is not None and network_of_magic(bytes(a ^ b for a, b in zip(head, key, strict=False))):
        return "blk"
    return "raw"


def _load(source: Source) -> np.ndarray:
    """The file's bytes, de-obfuscated; memory-mapped when no key applies."""
    size = source.path.stat().st_size
    if size == 0:
        return np.empty(0, np.uint8)
    with source.path.open("rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    data = np.frombuffer(mapped, np.uint8)
    if source.xor is None:
        return data
    key = np.frombuffer(source.xor, np.uint8)
    return data ^ np.resize(key, size)


def _header(
    data: np.ndarray, source: Source, offset: int, length: int, net: Network | None, order: int
) -> Header:
    raw = data[offset : offset + 80].tobytes()
    digest = hashlib.sha256(hashlib.sha256(raw).digest()).digest()
    version, prev, bits = struct.unpack_from("<i32s", raw) + struct.unpack_from("<I", raw, 72)
    return Header(
        hash=digest[::-1].hex(),
        prev_hash=prev[::-1].hex(),
        bits=bits,
        version=version,
        source=source,
        offset=offset,
        length=length,
        network=net,
        order=order,
    )


def scan(
    sources: list[Source], *, skip_bad: bool = False, errors: list[ParseError] | None = None
) -> Iterator[Header]:
    """The headers of every block in ``sources``, in reading order.

    A framing error (wrong magic, a length beyond the file, a truncated record) raises
    ``ParseError`` naming the file and offset; with ``skip_bad`` it is appended to
    ``errors`` and the scan goes on at the next record that starts with the file's magic.
    """
    order = 0
    for source in sources:
        data = _load(source)
        if source.kind == "raw":
            if data.size < 81:
                err = ParseError(
                    f"{data.size} bytes is too short for a block",
                    file=source.path,
                    offset=0,
                    expected="an 80-byte header and a transaction count",
                )
                if not skip_bad:
                    raise err
                if errors is not None:
                    errors.append(err)
                continue
            yield _header(data, source, 0, int(data.size), None, order)
            order += 1
            continue
        for offset, length, net in _records(data, source, skip_bad, errors):
            yield _header(data, source, offset, length, net, order)
            order += 1


def _records(
    data: np.ndarray, source: Source, skip_bad: bool, errors: list[ParseError] | None
) -> Iterator[tuple[int, int, Network]]:
    size = int(data.size)
    pos = 0
    net: Network | None = None
    while pos < size:
        err: ParseError | None = None
        head = data[pos : pos + 8].tobytes()
        if not any(data[pos : pos + 4]):
            if not data[pos:].any():
                return  # Core's preallocated tail
            err = ParseError(
                "zero bytes followed by data", file=source.path, offset=pos, expected="a magic"
            )
        elif len(head) < 8:
            err = ParseError(
                "data ends inside a record header",
                file=source.path,
                offset=pos,
                expected=f"{8 - len(head)} more bytes",
            )
        else:
            found = network_of_magic(head[:4])
            length = int.from_bytes(head[4:8], "little")
            if found is None or (net is not None and found != net):
                want = net.magic.hex() if net else "a Bitcoin network magic"
                err = ParseError(
                    f"wrong magic {head[:4].hex()}", file=source.path, offset=pos, expected=want
                )
            elif length < 81:
                err = ParseError(
                    f"record length {length} is too short for a block",
                    file=source.path,
                    offset=pos + 4,
                    expected="at least 81 bytes",
                )
            elif pos + 8 + length > size:
                err = ParseError(
                    f"record length {length:,} goes beyond the end of the file",
                    file=source.path,
                    offset=pos + 4,
                    expected=f"at most {size - pos - 8:,} bytes",
                )
            else:
                net = found
                yield pos + 8, length, found
                pos += 8 + length
                continue
        if not skip_bad:
            raise err
        if errors is not None:
            errors.append(err)
        pos = _resync(data, pos + 1, net)


def _resync(data: np.ndarray, start: int, net: Network | None) -> int:
    """The next offset at or after ``start`` where a record could begin (no copy of the
    rest of the file: candidates are found by their first byte, then checked)."""
    magics = [net.magic] if net else [n.magic for n in NETWORKS.values()]
    best = int(data.size)
    for magic in magics:
        for i in np.flatnonzero(data[start:] == magic[0]):
            at = start + int(i)
            if at >= best:
                break
            if data[at : at + 4].tobytes() == magic:
                best = at
                break
    return best


def read_block(header: Header) -> np.ndarray:
    """The block's bytes (a copy, so the file can be closed)."""
    with header.source.path.open("rb") as handle:
        handle.seek(header.offset)
        raw = handle.read(header.length)
    data = np.frombuffer(raw, np.uint8)
    if header.source.xor is not None:
        key = np.frombuffer(header.source.xor, np.uint8)
        phase = np.resize(np.roll(key, -(header.offset % 8)), header.length)
        data = data ^ phase
    return data
