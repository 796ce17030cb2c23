"""Helpers for the block parser's tests: a block serializer, an independent reference
decoder (after Bitcoin Core's ``UnserializeTransaction`` and ``Solver``), and reference
Base58Check / bech32 / bech32m encoders. Plain Python and hashlib only, so that they
check ``spector.chain`` rather than repeat it.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "bitcoin"
BLOCK_413567 = DATA / "block-413567.raw"
BLOCKS_1_255 = DATA / "mainnet-blocks-1-255.blk"
KEY_IO_VALID = DATA / "key_io_valid.json"

MAINNET_MAGIC = bytes.fromhex("f9beb4d9")
GENESIS = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
MAX_SIZE = 0x02000000

# secp256k1 generator point: a valid public key, compressed and uncompressed
G_X = bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
G_Y = bytes.fromhex("483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8")
PUBKEY33 = b"\x02" + G_X
PUBKEY65 = b"\x04" + G_X + G_Y


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def display(h: bytes) -> str:
    """Internal-order hash bytes as display-order (RPC) hex."""
    return h[::-1].hex()


def compact(n: int) -> bytes:
    """Bitcoin's canonical compact size."""
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


def push(data: bytes) -> bytes:
    """A minimal script push of ``data`` (direct or OP_PUSHDATA1/2)."""
    n = len(data)
    if n < 0x4C:
        return bytes([n]) + data
    if n <= 0xFF:
        return b"\x4c" + bytes([n]) + data
    return b"\x4d" + struct.pack("<H", n) + data


# ---------------------------------------------------------------------------------------
# building blocks


@dataclass
class In:
    prev: bytes = b"\x00" * 32  # internal byte order
    vout: int = 0
    script_sig: bytes = b""
    sequence: int = 0xFFFFFFFF
    witness: list[bytes] = field(default_factory=list)

    def serialize(self) -> bytes:
        return (
            self.prev
            + struct.pack("<I", self.vout)
            + compact(len(self.script_sig))
            + self.script_sig
            + struct.pack("<I", self.sequence)
        )


@dataclass
class Tx:
    inputs: list[In]
    outputs: list[tuple[int, bytes]]  # (value, scriptPubKey)
    version: int = 2
    locktime: int = 0
    segwit: bool | None = None  # None: BIP144 form when any input has a witness

    @property
    def uses_witness(self) -> bool:
        return any(i.witness for i in self.inputs) if self.segwit is None else self.segwit

    def legacy(self) -> bytes:
        """The serialization without witness data (what the txid hashes)."""
        return (
            struct.pack("<i", self.version)
            + compact(len(self.inputs))
            + b"".join(i.serialize() for i in self.inputs)
            + compact(len(self.outputs))
            + b"".join(struct.pack("<q", v) + compact(len(s)) + s for v, s in self.outputs)
            + struct.pack("<I", self.locktime)
        )

    def serialize(self) -> bytes:
        if not self.uses_witness:
            return self.legacy()
        body = self.legacy()[4:-4]
        wit = b"".join(
            compact(len(i.witness)) + b"".join(compact(len(w)) + w for w in i.witness)
            for i in self.inputs
        )
        return (
            struct.pack("<i", self.version)
            + b"\x00\x01"
            + body
            + wit
            + struct.pack("<I", self.locktime)
        )

    def txid(self) -> bytes:
        return sha256d(self.legacy())

    def wtxid(self) -> bytes:
        return sha256d(self.serialize())


def coinbase(height: int, outputs: list[tuple[int, bytes]], *, witness: bool = False) -> Tx:
    """A BIP34 coinbase for ``height``; with ``witness``, the BIP141 reserved value."""
    n = (height.bit_length() + 8) // 8  # CScriptNum bytes (room for the sign bit)
    script_sig = push(height.to_bytes(n, "little")) + b"\x04spec"
    return Tx(
        inputs=[
            In(b"\x00" * 32, 0xFFFFFFFF, script_sig, 0xFFFFFFFF, [b"\x00" * 32] if witness else [])
        ],
        outputs=outputs,
    )


def merkle_mutated(hashes: list[bytes]) -> bool:
    """Core's ComputeMerkleRoot ``mutated`` flag: some level pairs two equal hashes."""
    level = list(hashes)
    while len(level) > 1:
        if any(level[i] == level[i + 1] for i in range(0, len(level) - 1, 2)):
            return True
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return False


def merkle_root(hashes: list[bytes]) -> bytes:
    level = list(hashes)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def header(
    merkle: bytes,
    *,
    version: int = 0x20000000,
    prev: bytes = b"\x11" * 32,
    time: int = 1_700_000_000,
    bits: int = 0x207FFFFF,
    nonce: int = 7,
) -> bytes:
    return struct.pack("<i32s32sIII", version, prev, merkle, time, bits, nonce)


def make_block(txs: list[Tx], *, merkle: bytes | None = None, **hdr: int | bytes) -> bytes:
    """A serialized block; the merkle root is computed from the txids unless given."""
    root = merkle_root([t.txid() for t in txs]) if merkle is None else merkle
    return header(root, **hdr) + compact(len(txs)) + b"".join(t.serialize() for t in txs)  # type: ignore[arg-type]


def tx_offsets(txs: list[Tx]) -> list[int]:
    """Where each transaction starts in ``make_block(txs)``."""
    p = 80 + len(compact(len(txs)))
    out = []
    for t in txs:
        out.append(p)
        p += len(t.serialize())
    return out


def p2pkh(h: bytes) -> bytes:
    return b"\x76\xa9\x14" + h + b"\x88\xac"


def p2sh(h: bytes) -> bytes:
    return b"\xa9\x14" + h + b"\x87"


def witness_program(version: int, program: bytes) -> bytes:
    return bytes([0 if version == 0 else 0x50 + version, len(program)]) + program


def simple_segwit_block() -> tuple[bytes, list[Tx]]:
    """A small block: a segwit coinbase, a legacy spend and a two-input segwit spend."""
    cb = coinbase(800_000, [(625_000_000, p2pkh(b"\x01" * 20))], witness=True)
    legacy = Tx(
        inputs=[In(b"\x22" * 32, 1, push(b"\x30" * 71) + push(PUBKEY33), 0xFFFFFFFE)],
        outputs=[(5_000, witness_program(0, b"\x02" * 20)), (0, b"\x6a" + push(b"hello"))],
        version=1,
        locktime=799_999,
    )
    seg = Tx(
        inputs=[
            In(b"\x33" * 32, 0, b"", 0xFFFFFFFD, [b"\x30" * 72, PUBKEY33]),
            In(b"\x44" * 32, 7, b"", 0xFFFFFFFF, []),
        ],
        outputs=[(12_345, witness_program(1, b"\x03" * 32)), (1, p2sh(b"\x04" * 20))],
    )
    txs = [cb, legacy, seg]
    return make_block(txs), txs


def split_blk(data: bytes, magic: bytes = MAINNET_MAGIC) -> list[tuple[int, bytes]]:
    """(offset of the block in the file, block bytes) for each blk-file record."""
    out = []
    p = 0
    while p < len(data):
        got, length = struct.unpack_from("<4sI", data, p)
        assert got == magic, f"record at {p} starts with {got.hex()}"
        start = p + 8
        assert start + length <= len(data), f"record at {p} runs past the end"
        out.append((start, data[start : start + length]))
        p = start + length
    return out


# ---------------------------------------------------------------------------------------
# reference decoder (after Core's CBlock / UnserializeTransaction)


class RefError(Exception):
    """The reference decoder rejects the bytes."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.compacts: list[tuple[int, int]] = []  # (position, width) of each compact size

    def read(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise RefError(f"truncated at {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return struct.unpack("<I", self.read(4))[0]

    def compact(self) -> int:
        at = self.pos
        b = self.read(1)[0]
        if b < 0xFD:
            n = b
        elif b == 0xFD:
            n = struct.unpack("<H", self.read(2))[0]
            if n < 0xFD:
                raise RefError("non-canonical")
        elif b == 0xFE:
            n = struct.unpack("<I", self.read(4))[0]
            if n < 0x10000:
                raise RefError("non-canonical")
        else:
            n = struct.unpack("<Q", self.read(8))[0]
            if n < 0x100000000:
                raise RefError("non-canonical")
        if n > MAX_SIZE:
            raise RefError("size too large")
        self.compacts.append((at, self.pos - at))
        return n


@dataclass
class RefIn:
    prev: str
    vout: int
    script_sig: bytes
    sequence: int
    witness: tuple[bytes, ...] = ()


@dataclass
class RefTx:
    version: int
    inputs: list[RefIn]
    outputs: list[tuple[int, bytes]]
    locktime: int
    segwit: bool
    txid: str
    wtxid: str
    size: int
    base_size: int


def _ref_inputs(r: _Reader) -> list[RefIn]:
    out = []
    for _ in range(r.compact()):
        prev = r.read(32)
        vout = r.u32()
        script = r.read(r.compact())
        out.append(RefIn(display(prev), vout, script, r.u32()))
    return out


def ref_tx(r: _Reader) -> RefTx:
    start = r.pos
    version = struct.unpack("<i", r.read(4))[0]
    flags = 0
    inputs = _ref_inputs(r)  # reads the BIP144 marker as an empty input vector
    outputs: list[tuple[int, bytes]] = []

    def read_outputs() -> None:
        for _ in range(r.compact()):
            value = struct.unpack("<q", r.read(8))[0]
            outputs.append((value, r.read(r.compact())))

    if not inputs:
        flags = r.read(1)[0]
        if flags != 0:
            inputs = _ref_inputs(r)
            read_outputs()
    else:
        read_outputs()
    segwit = False
    if flags & 1:
        flags ^= 1
        segwit = True
        for i in inputs:
            i.witness = tuple(r.read(r.compact()) for _ in range(r.compact()))
        if not any(i.witness for i in inputs):
            raise RefError("superfluous witness record")
    if flags:
        raise RefError("unknown optional data")
    locktime = r.u32()
    raw = r.data[start : r.pos]
    # the txid hashes the serialization without witness, re-made here from the fields
    legacy = Tx(
        inputs=[In(bytes.fromhex(i.prev)[::-1], i.vout, i.script_sig, i.sequence) for i in inputs],
        outputs=outputs,
        version=version,
        locktime=locktime,
        segwit=False,
    ).legacy()
    return RefTx(
        version=version,
        inputs=inputs,
        outputs=outputs,
        locktime=locktime,
        segwit=segwit,
        txid=display(sha256d(legacy)),
        wtxid=display(sha256d(raw)),
        size=len(raw),
        base_size=len(legacy),
    )


@dataclass
class RefBlock:
    hash: str
    prev_hash: str
    merkle_root: str
    txs: list[RefTx]
    compacts: list[tuple[int, int]]  # (position, width) of every compact size


def ref_block(data: bytes, *, check_merkle: bool = True) -> RefBlock:
    """Decode a block as Core would, with the parser's extra rules (at least one
    transaction, nothing after the last one, the merkle root must match)."""
    r = _Reader(data)
    hdr = r.read(80)
    n = r.compact()
    if n == 0:
        raise RefError("no transactions")
    txs = [ref_tx(r) for _ in range(n)]
    if r.pos != len(data):
        raise RefError("trailing bytes")
    root = merkle_root([bytes.fromhex(t.txid)[::-1] for t in txs])
    if check_merkle and root != hdr[36:68]:
        raise RefError("merkle mismatch")
    if check_merkle and merkle_mutated([bytes.fromhex(t.txid)[::-1] for t in txs]):
        raise RefError("mutated merkle tree (CVE-2012-2459)")
    return RefBlock(display(sha256d(hdr)), display(hdr[4:36]), display(root), txs, r.compacts)


# ---------------------------------------------------------------------------------------
# reference script classes (Core's Solver) and addresses


def _get_op(script: bytes, p: int) -> tuple[int, bytes, int] | None:
    """Core's GetScriptOp: (opcode, pushed data, next position), None when malformed."""
    if p >= len(script):
        return None
    op = script[p]
    p += 1
    if op <= 0x4E:
        if op < 0x4C:
            n = op
        elif op == 0x4C:
            if p + 1 > len(script):
                return None
            n = script[p]
            p += 1
        elif op == 0x4D:
            if p + 2 > len(script):
                return None
            n = struct.unpack_from("<H", script, p)[0]
            p += 2
        else:
            if p + 4 > len(script):
                return None
            n = struct.unpack_from("<I", script, p)[0]
            p += 4
        if p + n > len(script):
            return None
        return op, script[p : p + n], p + n
    return op, b"", p


def _push_only(script: bytes, p: int) -> bool:
    while p < len(script):
        got = _get_op(script, p)
        if got is None or got[0] > 0x60:
            return False
        p = got[2]
    return True


def _valid_pubkey(data: bytes) -> bool:
    if not data:
        return False
    want = {2: 33, 3: 33, 4: 65, 6: 65, 7: 65}.get(data[0], 0)
    return want == len(data)


def _minimal_push(data: bytes, op: int) -> bool:
    n = len(data)
    if n == 0:
        return op == 0
    if n == 1 and 1 <= data[0] <= 16:
        return False
    if n == 1 and data[0] == 0x81:
        return False
    if n <= 75:
        return op == n
    if n <= 255:
        return op == 0x4C
    if n <= 65535:
        return op == 0x4D
    return True


def _script_number(op: int, data: bytes, lo: int, hi: int) -> int | None:
    if 0x51 <= op <= 0x60:
        count = op - 0x50
    elif op <= 0x4E:
        if not _minimal_push(data, op) or len(data) > 4:
            return None
        if data and (data[-1] & 0x7F) == 0 and (len(data) == 1 or not data[-2] & 0x80):
            return None  # CScriptNum's minimal-encoding rule
        if not data:
            count = 0
        else:
            count = int.from_bytes(data, "little") & ~(0x80 << (8 * (len(data) - 1)))
            if data[-1] & 0x80:
                count = -count
    else:
        return None
    return count if lo <= count <= hi else None


def _multisig(script: bytes) -> bool:
    if not script or script[-1] != 0xAE:
        return False
    got = _get_op(script, 0)
    if got is None:
        return False
    op, data, p = got
    m = _script_number(op, data, 1, 20)
    if m is None:
        return False
    keys = 0
    while True:
        got = _get_op(script, p)
        if got is None:
            return False
        op, data, p = got
        if not _valid_pubkey(data):
            break
        keys += 1
    n = _script_number(op, data, m, 20)
    return n is not None and keys == n and p + 1 == len(script)


def witness_program_of(script: bytes) -> tuple[int, bytes] | None:
    if not 4 <= len(script) <= 42:
        return None
    op = script[0]
    if op != 0 and not 0x51 <= op <= 0x60:
        return None
    if script[1] + 2 != len(script):
        return None
    return (0 if op == 0 else op - 0x50), script[2:]


def solver(script: bytes) -> str:
    """Core's ``Solver`` (script/solver.cpp): the script class of a scriptPubKey."""
    if len(script) == 23 and script[0] == 0xA9 and script[1] == 0x14 and script[22] == 0x87:
        return "p2sh"
    wp = witness_program_of(script)
    if wp is not None:
        ver, prog = wp
        if ver == 0 and len(prog) == 20:
            return "p2wpkh"
        if ver == 0 and len(prog) == 32:
            return "p2wsh"
        if ver == 1 and len(prog) == 32:
            return "p2tr"
        if script == b"\x51\x02\x4e\x73":
            return "anchor"
        if ver != 0:
            return "witness_unknown"
        return "nonstandard"
    if script[:1] == b"\x6a" and _push_only(script, 1):
        return "nulldata"
    p2pk_shape = len(script) in (35, 67) and script[0] == len(script) - 2
    if p2pk_shape and script[-1] == 0xAC and _valid_pubkey(script[1:-1]):
        return "p2pk"
    if (
        len(script) == 25
        and script[:3] == b"\x76\xa9\x14"
        and script[23] == 0x88
        and script[24] == 0xAC
    ):
        return "p2pkh"
    if _multisig(script):
        return "multisig"
    return "nonstandard"


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
B32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M_CONST = 0x2BC830A3


def base58check(version: int, payload: bytes) -> str:
    raw = bytes([version]) + payload
    raw += sha256d(raw)[:4]
    n = int.from_bytes(raw, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + out


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)  # BIP173
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def _convertbits(data: bytes) -> list[int]:
    acc = bits = 0
    out = []
    for b in data:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def segwit_address(hrp: str, version: int, program: bytes) -> str:
    """BIP173 (v0) / BIP350 (v1+) encoding."""
    data = [version, *_convertbits(program)]
    const = 1 if version == 0 else BECH32M_CONST
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    mod = _polymod([*expanded, *data, 0, 0, 0, 0, 0, 0]) ^ const
    check = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(B32[d] for d in data + check)


NET_PARAMS = {  # p2pkh version, p2sh version, bech32 hrp
    "main": (0x00, 0x05, "bc"),
    "testnet3": (0x6F, 0xC4, "tb"),
    "testnet4": (0x6F, 0xC4, "tb"),
    "signet": (0x6F, 0xC4, "tb"),
    "regtest": (0x6F, 0xC4, "bcrt"),
}


def ref_address(script: bytes, net: str = "main") -> str | None:
    """The address Core's ``EncodeDestination(ExtractDestination(script))`` gives."""
    pkh, sh, hrp = NET_PARAMS[net]
    kind = solver(script)
    if kind == "p2pkh":
        return base58check(pkh, script[3:23])
    if kind == "p2sh":
        return base58check(sh, script[2:22])
    if kind in ("p2wpkh", "p2wsh", "p2tr", "witness_unknown", "anchor"):
        ver, prog = witness_program_of(script)  # type: ignore[misc]
        return segwit_address(hrp, ver, prog)
    return None
