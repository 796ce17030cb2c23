"""The compiled hot path: one pass over a serialized block.

``parse_txs`` walks the transactions after the 80-byte header and returns flat arrays
(offsets into the block, counts, values, script classes), the txids and wtxids, and —
when asked — every output's address, encoded into one byte buffer. It follows Bitcoin
Core's deserializer (``UnserializeTransaction``): canonical compact sizes of at most
``MAX_SIZE``, the BIP144 marker/flag, "superfluous witness record" and unknown-flag
errors. It never raises: a failure comes back as (code, offset, aux) in ``status``, and
the Python side turns it into a ``ParseError``.

Script classes follow Core's ``Solver`` (``script/solver.cpp``), in its order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from spector.chain._sha import CTX_BYTES, sha256_ptr

# status codes; _errors.py has their messages
E_OK = 0
E_TRUNC = 1  # data ends inside a field; aux = bytes needed
E_VARINT = 2  # a compact size that is non-canonical or above MAX_SIZE
E_COUNT = 3  # a count larger than the remaining bytes can hold; aux = count
E_FLAG = 4  # unknown BIP144 flag; aux = flag
E_SUPERFLUOUS = 5  # witness flag set but every witness empty
E_TRAILING = 6  # bytes after the last transaction; aux = how many
E_MERKLE = 7  # merkle root does not match the header
E_NOTX = 8  # a block without transactions
E_MUTATED = 9  # two equal hashes paired in the merkle tree (CVE-2012-2459)

MAX_SIZE = 0x02000000
TMP_BYTES = 96 + CTX_BYTES  # digest, hash context, base58 payload

# script types; names in _types.py
T_NONSTANDARD = 0
T_P2PK = 1
T_P2PKH = 2
T_P2SH = 3
T_P2WPKH = 4
T_P2WSH = 5
T_P2TR = 6
T_MULTISIG = 7
T_NULLDATA = 8
T_WITNESS_UNKNOWN = 9
T_ANCHOR = 10

_B58 = np.frombuffer(b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", np.uint8)
_B32 = np.frombuffer(b"qpzry9x8gf2tvdw0s3jn54khce6mua7l", np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_GEN = np.array([0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3], np.uint32)


@njit(inline="always")
def _u32(buf: np.ndarray, p: int) -> int:
    return (
        np.int64(buf[p])
        | (np.int64(buf[p + 1]) << 8)
        | (np.int64(buf[p + 2]) << 16)
        | (np.int64(buf[p + 3]) << 24)
    )


@njit(inline="always")
def _u64(buf: np.ndarray, p: int) -> np.uint64:
    v = np.uint64(0)
    for k in range(8):
        v |= np.uint64(buf[p + k]) << np.uint64(8 * k)
    return v


@njit(cache=True)
def _varint(buf: np.ndarray, p: int, end: int, status: np.ndarray) -> tuple[int, int]:
    """(value, next position); next position -1 with ``status`` set on error."""
    if p >= end:
        status[0], status[1], status[2] = E_TRUNC, p, 1
        return 0, -1
    b = np.int64(buf[p])
    if b < 0xFD:
        return b, p + 1
    if b == 0xFD:
        if p + 3 > end:
            status[0], status[1], status[2] = E_TRUNC, p, 3 - (end - p)
            return 0, -1
        v = np.int64(buf[p + 1]) | (np.int64(buf[p + 2]) << 8)
        if v < 0xFD:
            status[0], status[1], status[2] = E_VARINT, p, v
            return 0, -1
        return v, p + 3
    if b == 0xFE:
        if p + 5 > end:
            status[0], status[1], status[2] = E_TRUNC, p, 5 - (end - p)
            return 0, -1
        v = _u32(buf, p + 1)
        if v < 0x10000 or v > MAX_SIZE:
            status[0], status[1], status[2] = E_VARINT, p, v
            return 0, -1
        return v, p + 5
    if p + 9 > end:
        status[0], status[1], status[2] = E_TRUNC, p, 9 - (end - p)
        return 0, -1
    status[0], status[1], status[2] = E_VARINT, p, -1  # 8-byte sizes always exceed MAX_SIZE
    return 0, -1


@njit(cache=True)
def _need(p: int, n: int, end: int, status: np.ndarray) -> bool:
    if p + n > end:
        status[0], status[1], status[2] = E_TRUNC, p, p + n - end
        return False
    return True


@njit(cache=True)
def _sha256d(buf: np.ndarray, start: int, n: int, tmp: np.ndarray, out: np.ndarray) -> None:
    """Double SHA-256; ``tmp`` is 64 + CTX_BYTES scratch bytes (digest, then context)."""
    ctx = tmp.ctypes.data + 64
    sha256_ptr(buf.ctypes.data + start, n, tmp.ctypes.data, ctx)
    sha256_ptr(tmp.ctypes.data, 32, out.ctypes.data, ctx)


@njit(cache=True)
def _valid_pubkey(buf: np.ndarray, p: int, n: int) -> bool:
    h = buf[p]
    if h == 2 or h == 3:
        return n == 33
    if h == 4 or h == 6 or h == 7:
        return n == 65
    return False


@njit(cache=True)
def _push_only(buf: np.ndarray, p: int, end: int) -> bool:
    """Core's IsPushOnly: every op is a well-formed push (opcodes up to OP_16)."""
    while p < end:
        op = buf[p]
        p += 1
        if op > 0x60:
            return False
        if op < 0x4C:
            n = np.int64(op)
        elif op == 0x4C:
            if p + 1 > end:
                return False
            n = np.int64(buf[p])
            p += 1
        elif op == 0x4D:
            if p + 2 > end:
                return False
            n = np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8)
            p += 2
        elif op == 0x4E:
            if p + 4 > end:
                return False
            n = _u32(buf, p)
            p += 4
        else:
            n = 0
        if p + n > end:
            return False
        p += n
    return True


@njit(cache=True)
def classify(buf: np.ndarray, p: int, n: int) -> tuple[int, int, int, int]:
    """(type, program offset, program length, witness version) of a scriptPubKey."""
    if n == 23 and buf[p] == 0xA9 and buf[p + 1] == 0x14 and buf[p + 22] == 0x87:
        return T_P2SH, p + 2, 20, -1
    if 4 <= n <= 42:
        op = buf[p]
        if (op == 0 or 0x51 <= op <= 0x60) and np.int64(buf[p + 1]) + 2 == n:
            ver = 0 if op == 0 else np.int64(op) - 0x50
            plen = n - 2
            if ver == 0:
                if plen == 20:
                    return T_P2WPKH, p + 2, 20, 0
                if plen == 32:
                    return T_P2WSH, p + 2, 32, 0
                return T_NONSTANDARD, 0, 0, -1
            if ver == 1 and plen == 32:
                return T_P2TR, p + 2, 32, 1
            if ver == 1 and plen == 2 and buf[p + 2] == 0x4E and buf[p + 3] == 0x73:
                return T_ANCHOR, p + 2, 2, 1
            return T_WITNESS_UNKNOWN, p + 2, plen, ver
    if n >= 1 and buf[p] == 0x6A and _push_only(buf, p + 1, p + n):
        return T_NULLDATA, 0, 0, -1
    if (
        (n == 35 or n == 67)
        and buf[p] == n - 2
        and buf[p + n - 1] == 0xAC
        and _valid_pubkey(buf, p + 1, n - 2)
    ):
        return T_P2PK, p + 1, n - 2, -1
    if (
        n == 25
        and buf[p] == 0x76
        and buf[p + 1] == 0xA9
        and buf[p + 2] == 0x14
        and buf[p + 23] == 0x88
        and buf[p + 24] == 0xAC
    ):
        return T_P2PKH, p + 3, 20, -1
    if n >= 1 and buf[p + n - 1] == 0xAE and _multisig(buf, p, p + n):
        return T_MULTISIG, 0, 0, -1
    return T_NONSTANDARD, 0, 0, -1


@njit(cache=True)
def _get_op(buf: np.ndarray, p: int, end: int) -> tuple[int, int, int, int]:
    """Core's GetScriptOp: (opcode, data start, data length, next); next -1 if truncated."""
    if p >= end:
        return -1, 0, 0, -1
    op = np.int64(buf[p])
    p += 1
    if op > 0x4E:
        return op, p, 0, p
    if op < 0x4C:
        size = op
    elif op == 0x4C:
        if p + 1 > end:
            return op, 0, 0, -1
        size = np.int64(buf[p])
        p += 1
    elif op == 0x4D:
        if p + 2 > end:
            return op, 0, 0, -1
        size = np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8)
        p += 2
    else:
        if p + 4 > end:
            return op, 0, 0, -1
        size = _u32(buf, p)
        p += 4
    if end - p < size:
        return op, 0, 0, -1
    return op, p, size, p + size


@njit(cache=True)
def _script_number(buf: np.ndarray, op: int, ds: int, dl: int, lo: int, hi: int) -> int:
    """Core's GetScriptNumber for multisig counts: OP_1..OP_16, or a minimal push of a
    minimally encoded number; -1 when not a number in [lo, hi]."""
    if 0x51 <= op <= 0x60:
        value = op - 0x50
    elif 0x01 <= op <= 0x4E:
        # CheckMinimalPush
        if dl == 1 and (1 <= buf[ds] <= 16 or buf[ds] == 0x81):
            return -1
        if dl <= 75:
            if op != dl:
                return -1
        elif dl <= 255:
            if op != 0x4C:
                return -1
        elif dl <= 65535 and op != 0x4D:
            return -1
        # CScriptNum(data, fRequireMinimal=true), at most 4 bytes
        if dl > 4:
            return -1
        if (
            dl > 0
            and (buf[ds + dl - 1] & 0x7F) == 0
            and (dl <= 1 or (buf[ds + dl - 2] & 0x80) == 0)
        ):
            return -1
        value = 0
        for i in range(dl):
            value |= np.int64(buf[ds + i]) << (8 * i)
        if dl > 0 and buf[ds + dl - 1] & 0x80:
            value = -(value & ~(np.int64(0x80) << (8 * (dl - 1))))
    else:
        return -1
    if value < lo or value > hi:
        return -1
    return value


@njit(cache=True)
def _multisig(buf: np.ndarray, p: int, end: int) -> bool:
    """Core's MatchMultisig: m <keys> n OP_CHECKMULTISIG, 1 <= m <= n <= 20."""
    op, ds, dl, q = _get_op(buf, p, end)
    if q < 0:
        return False
    required = _script_number(buf, op, ds, dl, 1, 20)
    if required < 0:
        return False
    keys = 0
    while True:
        op, ds, dl, q = _get_op(buf, q, end)
        if q < 0:
            return False
        if dl > 0 and _valid_pubkey(buf, ds, dl):
            keys += 1
            continue
        break
    count = _script_number(buf, op, ds, dl, required, 20)
    if count < 0 or keys != count:
        return False
    return q + 1 == end


@njit(cache=True)
def _base58check(
    buf: np.ndarray,
    prog: int,
    version: int,
    out: np.ndarray,
    ap: int,
    tmp: np.ndarray,
    digest: np.ndarray,
    work: np.ndarray,
) -> int:
    limbs = np.empty(8, np.int64)
    payload = tmp[64 + CTX_BYTES : 89 + CTX_BYTES]
    payload[0] = version
    payload[1:21] = buf[prog : prog + 20]
    _sha256d(payload, 0, 21, tmp, digest)
    payload[21:25] = digest[:4]
    zeros = 0
    while zeros < 25 and payload[zeros] == 0:
        zeros += 1
    # base-58 digits, least significant first, computed in limbs of 58**5 (< 2**30)
    nl = 0
    for i in range(zeros, 25):
        carry = np.int64(payload[i])
        for j in range(nl):
            carry += limbs[j] << 8
            limbs[j] = carry % 656356768
            carry //= 656356768
        while carry > 0:
            limbs[nl] = carry % 656356768
            nl += 1
            carry //= 656356768
    nd = 0
    for j in range(nl):
        v = limbs[j]
        for _ in range(5):
            work[nd] = v % 58
            v //= 58
            nd += 1
    while nd > 0 and work[nd - 1] == 0:
        nd -= 1
    for _ in range(zeros):
        out[ap] = 0x31  # '1'
        ap += 1
    for j in range(nd - 1, -1, -1):
        out[ap] = _B58[work[j]]
        ap += 1
    return ap


@njit(cache=True)
def _polymod_step(chk: np.uint32, v: int) -> np.uint32:
    top = chk >> np.uint32(25)
    chk = np.uint32(((chk & np.uint32(0x1FFFFFF)) << np.uint32(5)) ^ np.uint32(v))
    for i in range(5):
        if (top >> np.uint32(i)) & np.uint32(1):
            chk ^= _GEN[i]
    return chk


@njit(cache=True)
def _bech32(
    buf: np.ndarray, prog: int, plen: int, ver: int, hrp: np.ndarray, out: np.ndarray, ap: int
) -> int:
    chk = np.uint32(1)
    for c in hrp:
        chk = _polymod_step(chk, np.int64(c) >> 5)
    chk = _polymod_step(chk, 0)
    for c in hrp:
        chk = _polymod_step(chk, np.int64(c) & 31)
    for c in hrp:
        out[ap] = c
        ap += 1
    out[ap] = 0x31  # '1'
    ap += 1
    out[ap] = _B32[ver]
    ap += 1
    chk = _polymod_step(chk, ver)
    acc = 0
    bits = 0
    for i in range(plen):
        acc = ((acc << 8) | np.int64(buf[prog + i])) & 0xFFF
        bits += 8
        while bits >= 5:
            bits -= 5
            v = (acc >> bits) & 31
            out[ap] = _B32[v]
            ap += 1
            chk = _polymod_step(chk, v)
    if bits > 0:
        v = (acc << (5 - bits)) & 31
        out[ap] = _B32[v]
        ap += 1
        chk = _polymod_step(chk, v)
    for _ in range(6):
        chk = _polymod_step(chk, 0)
    const = np.uint32(1) if ver == 0 else np.uint32(0x2BC830A3)
    chk ^= const
    for i in range(6):
        out[ap] = _B32[(chk >> np.uint32(5 * (5 - i))) & np.uint32(31)]
        ap += 1
    return ap


@njit(cache=True)
def encode_address(
    buf: np.ndarray,
    kind: int,
    prog: int,
    plen: int,
    ver: int,
    p2pkh: int,
    p2sh: int,
    hrp: np.ndarray,
    out: np.ndarray,
    ap: int,
    tmp: np.ndarray,
    digest: np.ndarray,
    work: np.ndarray,
) -> int:
    """Write the address of a classified script at ``out[ap:]``; return the new end."""
    if kind == T_P2PKH:
        return _base58check(buf, prog, p2pkh, out, ap, tmp, digest, work)
    if kind == T_P2SH:
        return _base58check(buf, prog, p2sh, out, ap, tmp, digest, work)
    if ver >= 0:
        return _bech32(buf, prog, plen, ver, hrp, out, ap)
    return ap


@njit(cache=True)
def parse_txs(
    buf: np.ndarray,
    start: int,
    end: int,
    encode: bool,
    p2pkh: int,
    p2sh: int,
    hrp: np.ndarray,
):  # type: ignore[no-untyped-def]
    """Parse the transactions of the block ``buf[start:end]`` (header included)."""
    status = np.zeros(3, np.int64)
    size = end - start
    n_in_max = size // 41 + 1
    n_out_max = size // 9 + 1
    tmp = np.empty(TMP_BYTES, np.uint8)
    digest = np.empty(32, np.uint8)
    work = np.empty(40, np.uint8)
    p = start + 80
    ntx, p = _varint(buf, p, end, status)
    empty_i = np.empty(0, np.int64)
    empty_h = np.empty((0, 32), np.uint8)
    if p < 0:
        ntx = 0
    elif ntx == 0:
        status[0], status[1], status[2] = E_NOTX, start + 80, 0
    elif ntx * 10 > end - p:
        status[0], status[1], status[2] = E_COUNT, start + 80, ntx
    if status[0] != E_OK:
        ntx = 0
    tx_start = np.empty(ntx, np.int64)
    tx_end = np.empty(ntx, np.int64)
    tx_witness = np.zeros(ntx, np.int64)  # bytes of marker, flag and witnesses
    tx_in0 = np.empty(ntx + 1, np.int64)
    tx_out0 = np.empty(ntx + 1, np.int64)
    txid = np.empty((ntx, 32), np.uint8)
    wtxid = np.empty((ntx, 32), np.uint8)
    if status[0] != E_OK:
        n_in_max = 0
        n_out_max = 0
    in_off = np.empty(n_in_max, np.int64)
    in_script = np.empty(n_in_max, np.int64)
    in_script_len = np.empty(n_in_max, np.int64)
    in_wit = np.zeros(n_in_max, np.int64)
    in_wit_end = np.zeros(n_in_max, np.int64)
    out_value = np.empty(n_out_max, np.int64)
    out_script = np.empty(n_out_max, np.int64)
    out_script_len = np.empty(n_out_max, np.int64)
    out_type = np.empty(n_out_max, np.int8)
    addr = np.empty(2 * size + 128 if encode else 0, np.uint8)
    addr_off = np.zeros(n_out_max + 1 if encode else 0, np.int64)
    scratch = np.empty(size, np.uint8)
    nin = 0
    nout = 0
    ap = 0
    for t in range(ntx):
        if status[0] != E_OK:
            break
        s = p
        tx_start[t] = s
        tx_in0[t] = nin
        tx_out0[t] = nout
        if not _need(p, 4, end, status):
            break
        p += 4
        body = p  # first byte after the version
        cnt, q = _varint(buf, p, end, status)
        if q < 0:
            break
        flag = 0
        n_vin = cnt
        count_at = p
        if cnt == 0:
            # Core: an empty input list is followed by a flag byte; flag 0 means no inputs
            # and no outputs (and nothing else to read but the lock time)
            if not _need(q, 1, end, status):
                break
            flag = np.int64(buf[q])
            q += 1
            if flag != 0:
                body = q
                count_at = q
                n_vin, q = _varint(buf, q, end, status)
                if q < 0:
                    break
        p = q
        if n_vin * 41 > end - p:
            status[0], status[1], status[2] = E_COUNT, count_at, n_vin
            break
        for _ in range(n_vin):
            if not _need(p, 36, end, status):
                break
            in_off[nin] = p
            p += 36
            slen, p = _varint(buf, p, end, status)
            if p < 0:
                break
            if not _need(p, slen + 4, end, status):
                break
            in_script[nin] = p
            in_script_len[nin] = slen
            p += slen + 4
            in_wit[nin] = 0
            in_wit_end[nin] = 0
            nin += 1
        if status[0] != E_OK:
            break
        n_vout = 0
        if cnt != 0 or flag != 0:
            count_at = p
            n_vout, p = _varint(buf, p, end, status)
            if p < 0:
                break
            if n_vout * 9 > end - p:
                status[0], status[1], status[2] = E_COUNT, count_at, n_vout
                break
        for _ in range(n_vout):
            if not _need(p, 8, end, status):
                break
            out_value[nout] = np.int64(_u64(buf, p))
            p += 8
            slen, p = _varint(buf, p, end, status)
            if p < 0:
                break
            if not _need(p, slen, end, status):
                break
            out_script[nout] = p
            out_script_len[nout] = slen
            kind, prog, plen, ver = classify(buf, p, slen)
            out_type[nout] = kind
            if encode:
                ap = encode_address(
                    buf, kind, prog, plen, ver, p2pkh, p2sh, hrp, addr, ap, tmp, digest, work
                )
                addr_off[nout + 1] = ap
            p += slen
            nout += 1
        if status[0] != E_OK:
            break
        body_end = p
        flag_byte = flag
        if flag & 1:
            flag ^= 1
            any_witness = False
            for i in range(tx_in0[t], nin):
                in_wit[i] = p
                items, p = _varint(buf, p, end, status)
                if p < 0:
                    break
                if items > end - p:
                    status[0], status[1], status[2] = E_COUNT, in_wit[i], items
                    break
                if items > 0:
                    any_witness = True
                for _ in range(items):
                    ilen, p = _varint(buf, p, end, status)
                    if p < 0:
                        break
                    if not _need(p, ilen, end, status):
                        break
                    p += ilen
                if status[0] != E_OK:
                    break
                in_wit_end[i] = p
            if status[0] != E_OK:
                break
            if not any_witness:
                status[0], status[1], status[2] = E_SUPERFLUOUS, s, 0
                break
        if flag != 0:
            status[0], status[1], status[2] = E_FLAG, s + 5, flag_byte
            break
        if not _need(p, 4, end, status):
            break
        p += 4
        tx_end[t] = p
        if body == s + 4:
            _sha256d(buf, s, p - s, tmp, txid[t])
            wtxid[t, :] = txid[t]
        else:
            # non-witness serialization: version, inputs and outputs, lock time
            n = body_end - body
            scratch[0:4] = buf[s : s + 4]
            scratch[4 : 4 + n] = buf[body:body_end]
            scratch[4 + n : 8 + n] = buf[p - 4 : p]
            _sha256d(scratch, 0, n + 8, tmp, txid[t])
            _sha256d(buf, s, p - s, tmp, wtxid[t])
            tx_witness[t] = (p - s) - (n + 8)
    tx_in0[ntx] = nin
    tx_out0[ntx] = nout
    if status[0] == E_OK and p != end:
        status[0], status[1], status[2] = E_TRAILING, p, end - p
    if status[0] == E_OK:
        # merkle root of the txids
        level = txid.copy()
        n = ntx
        pair = np.empty(64, np.uint8)
        mutated = False
        while n > 1:
            m = 0
            for i in range(0, n, 2):
                if i + 1 < n and not mutated:
                    # Core's ComputeMerkleRoot: a pair of equal hashes means the block's
                    # transaction list can be mutated without changing its merkle root
                    same = True
                    for k in range(32):
                        if level[i, k] != level[i + 1, k]:
                            same = False
                            break
                    mutated = same
                pair[:32] = level[i]
                pair[32:] = level[i + 1] if i + 1 < n else level[i]
                _sha256d(pair, 0, 64, tmp, level[m])
                m += 1
            n = m
        for k in range(32):
            if level[0, k] != buf[start + 36 + k]:
                status[0], status[1], status[2] = E_MERKLE, start + 36, 0
                break
        if status[0] == E_OK and mutated:
            status[0], status[1], status[2] = E_MUTATED, start + 80, 0
    if status[0] != E_OK:
        return (
            status, 0, 0, 0, empty_i, empty_i, empty_i, empty_i, empty_i, empty_h, empty_h,
            empty_i, empty_i, empty_i, empty_i, empty_i,
            empty_i, empty_i, empty_i, np.empty(0, np.int8),
            np.empty(0, np.uint8), empty_i,
        )  # fmt: skip
    return (
        status, ntx, nin, nout, tx_start, tx_end, tx_witness, tx_in0, tx_out0, txid, wtxid,
        in_off[:nin], in_script[:nin], in_script_len[:nin], in_wit[:nin], in_wit_end[:nin],
        out_value[:nout], out_script[:nout], out_script_len[:nout], out_type[:nout],
        addr[:ap], addr_off[: nout + 1 if encode else 0],
    )  # fmt: skip


@njit(cache=True)
def hex_reversed(hashes: np.ndarray) -> np.ndarray:
    """(n, 32) internal-order hashes → n×64 ASCII hex digits in display (reversed) order."""
    n = hashes.shape[0]
    out = np.empty(n * 64, np.uint8)
    for i in range(n):
        for k in range(32):
            b = hashes[i, 31 - k]
            out[i * 64 + 2 * k] = _HEX[b >> 4]
            out[i * 64 + 2 * k + 1] = _HEX[b & 15]
    return out


@njit(cache=True)
def hex_reversed_at(buf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Like ``hex_reversed`` for 32-byte hashes at ``buf[offsets[i]:+32]``."""
    n = offsets.size
    out = np.empty(n * 64, np.uint8)
    for i in range(n):
        o = offsets[i]
        for k in range(32):
            b = buf[o + 31 - k]
            out[i * 64 + 2 * k] = _HEX[b >> 4]
            out[i * 64 + 2 * k + 1] = _HEX[b & 15]
    return out
