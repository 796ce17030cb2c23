"""SHA-256 for the compiled parser.

The kernel calls one C symbol, ``spector_sha256(data, length, out32)``. It is bound to
OpenSSL's ``SHA256`` from libcrypto (the library Python's own hashlib uses; SHA-NI
accelerated where the CPU has it) and, where libcrypto cannot be loaded, to a numba
implementation of FIPS 180-4 below. ``SPECTOR_SHA256=numba`` forces the fallback (tests
check both against hashlib).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import llvmlite.binding as llb
import numpy as np
from numba import carray, cfunc, njit, types
from numba.extending import intrinsic

__all__ = ["CTX_BYTES", "SHA256_BACKEND", "sha256_numba", "sha256_ptr"]

_K = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4,
        0xAB1C5ED5, 0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE,
        0x9BDC06A7, 0xC19BF174, 0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F,
        0x4A7484AA, 0x5CB0A9DC, 0x76F988DA, 0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7,
        0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967, 0x27B70A85, 0x2E1B2138, 0x4D2C6DFC,
        0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85, 0xA2BFE8A1, 0xA81A664B,
        0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070, 0x19A4C116,
        0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7,
        0xC67178F2,
    ],
    dtype=np.uint32,
)  # fmt: skip
_H0 = np.array(
    [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB,
     0x5BE0CD19],
    dtype=np.uint32,
)  # fmt: skip


@njit(inline="always")
def _rotr(x: np.uint32, n: int) -> np.uint32:
    return np.uint32((x >> np.uint32(n)) | (x << np.uint32(32 - n)))


@njit(cache=True)
def _compress(h: np.ndarray, block: np.ndarray, w: np.ndarray) -> None:
    for i in range(16):
        w[i] = (
            (np.uint32(block[4 * i]) << np.uint32(24))
            | (np.uint32(block[4 * i + 1]) << np.uint32(16))
            | (np.uint32(block[4 * i + 2]) << np.uint32(8))
            | np.uint32(block[4 * i + 3])
        )
    for i in range(16, 64):
        s0 = _rotr(w[i - 15], 7) ^ _rotr(w[i - 15], 18) ^ (w[i - 15] >> np.uint32(3))
        s1 = _rotr(w[i - 2], 17) ^ _rotr(w[i - 2], 19) ^ (w[i - 2] >> np.uint32(10))
        w[i] = np.uint32(w[i - 16] + s0 + w[i - 7] + s1)
    a, b, c, d, e, f, g, hh = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    for i in range(64):
        s1 = _rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)
        ch = (e & f) ^ (~e & g)
        t1 = np.uint32(hh + s1 + ch + _K[i] + w[i])
        s0 = _rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)
        mj = (a & b) ^ (a & c) ^ (b & c)
        t2 = np.uint32(s0 + mj)
        hh, g, f, e, d, c, b, a = g, f, e, np.uint32(d + t1), c, b, a, np.uint32(t1 + t2)
    h[0] += a
    h[1] += b
    h[2] += c
    h[3] += d
    h[4] += e
    h[5] += f
    h[6] += g
    h[7] += hh


@njit(cache=True)
def sha256_numba(data: np.ndarray, out: np.ndarray) -> None:
    """SHA-256 of ``data`` (uint8) into ``out`` (32 uint8)."""
    h = _H0.copy()
    w = np.empty(64, np.uint32)
    block = np.empty(64, np.uint8)
    n = data.size
    full = n // 64
    for j in range(full):
        _compress(h, data[64 * j : 64 * j + 64], w)
    rest = n - 64 * full
    block[:] = 0
    block[:rest] = data[64 * full :]
    block[rest] = 0x80
    if rest >= 56:
        _compress(h, block, w)
        block[:] = 0
    bits = np.uint64(n) * np.uint64(8)
    for k in range(8):
        block[63 - k] = np.uint8((bits >> np.uint64(8 * k)) & np.uint64(0xFF))
    _compress(h, block, w)
    for i in range(8):
        out[4 * i] = np.uint8(h[i] >> np.uint32(24))
        out[4 * i + 1] = np.uint8((h[i] >> np.uint32(16)) & np.uint32(0xFF))
        out[4 * i + 2] = np.uint8((h[i] >> np.uint32(8)) & np.uint32(0xFF))
        out[4 * i + 3] = np.uint8(h[i] & np.uint32(0xFF))


_INIT = types.intc(types.voidptr)
_UPDATE = types.intc(types.voidptr, types.voidptr, types.intp)
_FINAL = types.intc(types.voidptr, types.voidptr)


@intrinsic
def _ptr_to_int(typingctx, ptr):  # type: ignore[no-untyped-def]
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.ptrtoint(args[0], context.get_value_type(types.intp))

    return types.intp(types.voidptr), codegen


@intrinsic
def _int_to_ptr(typingctx, value):  # type: ignore[no-untyped-def]
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.inttoptr(args[0], context.get_value_type(types.voidptr))

    return types.voidptr(types.intp), codegen


def _fallback() -> tuple[int, int, int]:
    """numba stand-ins for SHA256_Init/Update/Final. The context keeps (data pointer,
    length): the kernel always hashes one contiguous buffer per digest."""

    @cfunc(_INIT)
    def init(ctx):  # type: ignore[no-untyped-def]
        return 1

    @cfunc(_UPDATE)
    def update(ctx, data, length):  # type: ignore[no-untyped-def]
        slots = carray(ctx, 2, types.intp)  # type: ignore[call-overload]
        slots[0] = _ptr_to_int(data)
        slots[1] = length
        return 1

    @cfunc(_FINAL)
    def final(out, ctx):  # type: ignore[no-untyped-def]
        slots = carray(ctx, 2, types.intp)  # type: ignore[call-overload]
        src = carray(_int_to_ptr(slots[0]), slots[1], types.uint8)  # type: ignore[call-overload]
        dst = carray(out, 32, types.uint8)  # type: ignore[call-overload]
        sha256_numba(src, dst)
        return 1

    _KEEP.extend((init, update, final))
    return init.address, update.address, final.address


_KEEP: list[object] = []


def _libcrypto() -> tuple[int, int, int] | None:
    """Addresses of libcrypto's SHA256_Init/Update/Final (the low-level calls: OpenSSL
    3's one-shot SHA256() fetches an EVP method per call and is six times slower on the
    short inputs that dominate here)."""
    for name in ("libcrypto.so.3", "libcrypto.so", ctypes.util.find_library("crypto")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            return tuple(  # type: ignore[return-value]
                ctypes.cast(getattr(lib, f), ctypes.c_void_p).value
                for f in ("SHA256_Init", "SHA256_Update", "SHA256_Final")
            )
        except (OSError, AttributeError):
            continue
    return None


def _bind() -> str:
    found = None if os.environ.get("SPECTOR_SHA256") == "numba" else _libcrypto()
    backend = "openssl"
    if found is None:
        found = _fallback()
        backend = "numba"
    for name, address in zip(("init", "update", "final"), found, strict=True):
        llb.add_symbol(f"spector_sha256_{name}", address)
    return backend


SHA256_BACKEND = _bind()
CTX_BYTES = 256  # OpenSSL's SHA256_CTX is 112 bytes
_sha_init = types.ExternalFunction("spector_sha256_init", _INIT)
_sha_update = types.ExternalFunction("spector_sha256_update", _UPDATE)
_sha_final = types.ExternalFunction("spector_sha256_final", _FINAL)


@njit(cache=True)
def sha256_ptr(data: int, length: int, out: int, ctx: int) -> None:
    """SHA-256 of ``length`` bytes at address ``data`` into 32 bytes at ``out``."""
    _sha_init(ctx)
    _sha_update(ctx, data, length)
    _sha_final(out, ctx)
