"""``parse_block``: a block as Python objects over the compiled parser's arrays.

The kernel (``_kernel.parse_txs``) does the work: txids, wtxids, merkle check, script
classes, addresses. ``Block`` keeps its arrays (the ingest builds Arrow tables from them
without making an object per transaction) and makes ``Tx`` objects only when asked.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np

from spector.chain import _kernel as k
from spector.chain._network import Network, network
from spector.errors import ParseError

__all__ = ["SCRIPT_TYPES", "Block", "Parsed", "Tx", "TxIn", "TxOut", "parse_block"]

SCRIPT_TYPES = (
    "nonstandard",
    "p2pk",
    "p2pkh",
    "p2sh",
    "p2wpkh",
    "p2wsh",
    "p2tr",
    "multisig",
    "nulldata",
    "witness_unknown",
    "anchor",
)
_COINBASE_PREV = b"\x00" * 32 + b"\xff\xff\xff\xff"


class Parsed(NamedTuple):
    """The kernel's arrays (offsets are into the block's buffer)."""

    ntx: int
    nin: int
    nout: int
    tx_start: np.ndarray
    tx_end: np.ndarray
    tx_witness: np.ndarray
    tx_in0: np.ndarray
    tx_out0: np.ndarray
    txid: np.ndarray
    wtxid: np.ndarray
    in_off: np.ndarray
    in_script: np.ndarray
    in_script_len: np.ndarray
    in_wit: np.ndarray
    in_wit_end: np.ndarray
    out_value: np.ndarray
    out_script: np.ndarray
    out_script_len: np.ndarray
    out_type: np.ndarray
    addr: np.ndarray
    addr_off: np.ndarray


# the kernel's status codes as (what happened, what was expected), given its ``aux``
_MESSAGES: dict[int, Callable[[int], tuple[str, str]]] = {
    k.E_TRUNC: lambda n: ("data ends inside the block", f"{n} more byte{'s' if n != 1 else ''}"),
    k.E_VARINT: lambda n: (
        "bad compact size",
        f"a canonical compact size of at most {k.MAX_SIZE:,}",
    ),
    k.E_COUNT: lambda n: (
        f"count {n:,} is larger than the rest of the block can hold",
        "a count that fits in the block",
    ),
    k.E_FLAG: lambda n: (f"unknown transaction flag 0x{n:02x}", "flag 0x01"),
    k.E_SUPERFLUOUS: lambda n: (
        "witness flag set but every witness is empty",
        "at least one witness item",
    ),
    k.E_TRAILING: lambda n: (
        f"{n:,} bytes after the last transaction",
        "the block to end with its last transaction",
    ),
    k.E_MERKLE: lambda n: (
        "merkle root does not match the transactions",
        "the header's merkle root",
    ),
    k.E_MUTATED: lambda n: (
        "the merkle tree pairs two equal hashes: a duplicated transaction list (CVE-2012-2459)",
        "distinct hashes in every pair",
    ),
    k.E_NOTX: lambda n: ("block without transactions", "a coinbase"),
}


def _error(status: np.ndarray, file: str | None, base: int) -> ParseError:
    code, offset, aux = (int(x) for x in status)
    message = _MESSAGES.get(code)
    if message is None:
        return ParseError(f"parser status {code}", file=file, offset=base + offset)
    what, expected = message(aux)
    return ParseError(what, file=file, offset=base + offset, expected=expected)


@dataclass(frozen=True, slots=True)
class TxIn:
    """A spend of ``prev_txid:vout`` (display-order hex)."""

    prev_txid: str
    vout: int
    script_sig: bytes
    sequence: int
    witness: tuple[bytes, ...]

    @property
    def is_coinbase(self) -> bool:
        return self.vout == 0xFFFFFFFF and self.prev_txid == "0" * 64


@dataclass(frozen=True, slots=True)
class TxOut:
    """An output: value in satoshis, script class, address (None when it has none)."""

    value: int
    script_type: str
    address: str | None
    script: bytes


@dataclass(frozen=True, slots=True)
class Tx:
    """A transaction; ``size`` in bytes, ``weight`` in BIP141 units."""

    txid: str
    wtxid: str
    version: int
    locktime: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    size: int
    weight: int
    segwit: bool

    @property
    def vsize(self) -> int:
        return (self.weight + 3) // 4

    @property
    def is_coinbase(self) -> bool:
        return len(self.inputs) == 1 and self.inputs[0].is_coinbase

    @property
    def output_value(self) -> int:
        return sum(o.value for o in self.outputs)


def _compact(data: bytes | np.ndarray, p: int) -> tuple[int, int]:
    b = int(data[p])
    if b < 0xFD:
        return b, p + 1
    width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[b]
    return int.from_bytes(bytes(data[p + 1 : p + 1 + width]), "little"), p + 1 + width


def bip34_height(script_sig: bytes) -> int | None:
    """The height a BIP34 coinbase pushes first, or None."""
    if not script_sig:
        return None
    op = script_sig[0]
    if op == 0:
        return 0
    if 0x51 <= op <= 0x60:
        return op - 0x50
    if 1 <= op <= 8 and len(script_sig) > op:
        raw = script_sig[1 : 1 + op]
        value = int.from_bytes(raw, "little")
        if raw[-1] & 0x80:  # CScriptNum sign bit: not a height
            return None
        return value
    return None


class Block:
    """A parsed block. Hashes are display-order hex, values satoshis."""

    __slots__ = (
        "__dict__",
        "bits",
        "buf",
        "file",
        "hash",
        "merkle_root",
        "network",
        "nonce",
        "offset",
        "parsed",
        "prev_hash",
        "size",
        "time",
        "version",
    )

    def __init__(
        self, buf: np.ndarray, parsed: Parsed, net: Network, file: str | None, offset: int
    ) -> None:
        header = buf[:80].tobytes()
        self.buf = buf
        self.parsed = parsed
        self.network = net
        self.file = file
        self.offset = offset
        self.hash = hashlib.sha256(hashlib.sha256(header).digest()).digest()[::-1].hex()
        self.version, prev, root, self.time, self.bits, self.nonce = struct.unpack(
            "<i32s32sIII", header
        )
        self.prev_hash = prev[::-1].hex()
        self.merkle_root = root[::-1].hex()
        self.size = len(buf)

    @property
    def tx_count(self) -> int:
        return self.parsed.ntx

    @cached_property
    def height(self) -> int | None:
        """The BIP34 height in the coinbase (blocks of version 2 and later), or None."""
        if self.version < 2 or self.parsed.nin == 0:
            return None
        p = self.parsed
        return bip34_height(self._bytes(p.in_script[0], p.in_script_len[0]))

    @cached_property
    def weight(self) -> int:
        p = self.parsed
        sizes = p.tx_end - p.tx_start
        base = sizes - p.tx_witness
        return int(3 * base.sum() + sizes.sum()) + 4 * (int(p.tx_start[0]) if p.ntx else 80)

    @property
    def total_output_value(self) -> int:
        return int(self.parsed.out_value.sum())

    @property
    def is_genesis(self) -> bool:
        return bool(self.prev_hash == "0" * 64)

    def _bytes(self, start: int, length: int) -> bytes:
        return self.buf[int(start) : int(start) + int(length)].tobytes()

    @cached_property
    def txids(self) -> list[str]:
        return [bytes(h[::-1]).hex() for h in self.parsed.txid]

    def address(self, i: int) -> str | None:
        """Output ``i``'s address (block-wide output index), encoded on demand."""
        p = self.parsed
        if len(p.addr_off):
            a, b = int(p.addr_off[i]), int(p.addr_off[i + 1])
            return p.addr[a:b].tobytes().decode() if b > a else None
        start = int(p.out_script[i])
        kind, prog, plen, ver = k.classify(self.buf, start, int(p.out_script_len[i]))
        out = np.empty(96, np.uint8)
        end = k.encode_address(
            self.buf,
            kind,
            prog,
            plen,
            ver,
            self.network.p2pkh,
            self.network.p2sh,
            self.network.hrp_array,
            out,
            0,
            np.empty(k.TMP_BYTES, np.uint8),
            np.empty(32, np.uint8),
            np.empty(40, np.uint8),
        )
        return out[:end].tobytes().decode() if end else None

    def _witness(self, i: int) -> tuple[bytes, ...]:
        p = self.parsed
        start, end = int(p.in_wit[i]), int(p.in_wit_end[i])
        if start == end:
            return ()
        count, q = _compact(self.buf, start)
        items = []
        for _ in range(count):
            n, q = _compact(self.buf, q)
            items.append(self.buf[q : q + n].tobytes())
            q += n
        return tuple(items)

    @cached_property
    def txs(self) -> list[Tx]:
        p = self.parsed
        out: list[Tx] = []
        buf = self.buf
        for t in range(p.ntx):
            s, e = int(p.tx_start[t]), int(p.tx_end[t])
            inputs = []
            for i in range(int(p.tx_in0[t]), int(p.tx_in0[t + 1])):
                o = int(p.in_off[i])
                sl = int(p.in_script[i]) + int(p.in_script_len[i])
                inputs.append(
                    TxIn(
                        prev_txid=buf[o : o + 32][::-1].tobytes().hex(),
                        vout=int.from_bytes(buf[o + 32 : o + 36].tobytes(), "little"),
                        script_sig=self._bytes(p.in_script[i], p.in_script_len[i]),
                        sequence=int.from_bytes(buf[sl : sl + 4].tobytes(), "little"),
                        witness=self._witness(i),
                    )
                )
            outputs = [
                TxOut(
                    value=int(p.out_value[j]),
                    script_type=SCRIPT_TYPES[p.out_type[j]],
                    address=self.address(j),
                    script=self._bytes(p.out_script[j], p.out_script_len[j]),
                )
                for j in range(int(p.tx_out0[t]), int(p.tx_out0[t + 1]))
            ]
            size = e - s
            base = size - int(p.tx_witness[t])
            out.append(
                Tx(
                    txid=self.txids[t],
                    wtxid=bytes(p.wtxid[t][::-1]).hex(),
                    version=int.from_bytes(buf[s : s + 4].tobytes(), "little", signed=True),
                    locktime=int.from_bytes(buf[e - 4 : e].tobytes(), "little"),
                    inputs=tuple(inputs),
                    outputs=tuple(outputs),
                    size=size,
                    weight=3 * base + size,
                    segwit=bool(p.tx_witness[t]),
                )
            )
        return out

    def __repr__(self) -> str:
        return f"Block({self.hash}, height={self.height}, txs={self.tx_count})"


def parse_block(
    data: bytes | bytearray | memoryview | np.ndarray,
    *,
    network_name: str | Network = "main",
    addresses: bool = True,
    file: str | Path | None = None,
    offset: int = 0,
) -> Block:
    """Parse one serialized block (80-byte header, transactions).

    Every txid and wtxid is computed and the merkle root checked; ``addresses=False``
    leaves address strings to be encoded when asked for. Raises ``ParseError`` naming
    ``file`` and the byte offset (``offset`` is where the block starts in that file).
    """
    net = network(network_name)
    if isinstance(data, np.ndarray):
        buf = np.ascontiguousarray(data, dtype=np.uint8)
        if buf.ndim != 1:
            raise ParseError("not a byte string", file=file, offset=offset, expected="bytes")
    else:
        buf = np.frombuffer(data, np.uint8)
    name = str(file) if file is not None else None
    if buf.size < 81:
        raise ParseError(
            f"{buf.size} bytes is too short for a block",
            file=name,
            offset=offset,
            expected="an 80-byte header and a transaction count",
        )
    result = k.parse_txs(buf, 0, buf.size, addresses, net.p2pkh, net.p2sh, net.hrp_array)
    if result[0][0] != k.E_OK:
        raise _error(result[0], name, offset)
    return Block(buf, Parsed(*result[1:]), net, name, offset)
