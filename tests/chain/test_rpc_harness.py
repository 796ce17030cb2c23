"""The recorded bitcoind (tests/chain/rpc_harness.py) checked with plain urllib calls.

The chain is main net's first blocks: the genesis block (from python-bitcoinlib) and heights
1..10 of ../shared/data/bitcoin/mainnet-blocks-1-255.blk, so the hashes are real ones.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import struct
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError

import pytest
from tests.chain.rpc_harness import RecordedNode, block_hash

GENESIS = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
BLOCK_1 = "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy from env


@pytest.fixture(scope="module")
def blocks(shared_data: Path) -> list[bytes]:
    from bitcoin.core import CoreMainParams

    data = (shared_data / "bitcoin" / "mainnet-blocks-1-255.blk").read_bytes()
    out = [CoreMainParams.GENESIS_BLOCK.serialize()]
    p = 0
    while len(out) < 11:
        magic, length = struct.unpack_from("<4sI", data, p)
        assert magic == bytes.fromhex("f9beb4d9")
        out.append(data[p + 8 : p + 8 + length])
        p += 8 + length
    return out


@pytest.fixture
def node(blocks: list[bytes]):
    with RecordedNode(blocks, chain="main") as n:
        yield n


def post(
    node: RecordedNode, payload: Any, *, auth: str | None = "default", raw: bytes | None = None
) -> tuple[int, Any, http.client.HTTPMessage]:
    """POST ``payload`` as JSON; (HTTP status, decoded JSON body or the raw bytes, headers)."""
    headers = {"Content-Type": "application/json"}
    if auth == "default":
        auth = node.authorization
    if auth is not None:
        headers["Authorization"] = auth
    body = raw if raw is not None else json.dumps(payload).encode()
    request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 of the test's node)
        node.address, data=body, headers=headers, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=10) as response:
            status, data, info = response.status, response.read(), response.headers
    except HTTPError as error:
        with error:
            status, data, info = error.code, error.read(), error.headers
    return status, (json.loads(data) if data else data), info


def call(node: RecordedNode, method: str, *params: Any) -> Any:
    status, reply, _ = post(node, {"jsonrpc": "1.0", "id": "t", "method": method, "params": params})
    assert status == 200, reply
    assert reply["error"] is None
    assert reply["id"] == "t"
    return reply["result"]


def sha256d_hex(block: bytes) -> str:
    return hashlib.sha256(hashlib.sha256(block[:80]).digest()).digest()[::-1].hex()


def test_url_and_chain_info(node: RecordedNode) -> None:
    assert node.url == f"http://spector:secret@127.0.0.1:{node.port}/"
    assert call(node, "getblockchaininfo") == {
        "chain": "main",
        "blocks": 10,
        "bestblockhash": node.hashes[10],
    }
    assert call(node, "getblockcount") == 10
    assert call(node, "getbestblockhash") == node.hashes[10]
    assert node.calls == [
        ("getblockchaininfo", []),
        ("getblockcount", []),
        ("getbestblockhash", []),
    ]


@pytest.mark.parametrize(
    "auth",
    [None, "Basic " + "c3BlY3Rvcjp3cm9uZw==", "Bearer secret", "Basic !!!"],
    ids=["missing", "wrong-password", "not-basic", "not-base64"],
)
def test_wrong_or_missing_auth_is_401_with_empty_body(node: RecordedNode, auth: str | None) -> None:
    status, body, headers = post(node, {"method": "getblockcount", "id": 1}, auth=auth)
    assert (status, body) == (401, b"")
    assert headers["WWW-Authenticate"] == 'Basic realm="jsonrpc"'
    assert node.calls == []  # never reached the methods


def test_other_user_and_password(blocks: list[bytes]) -> None:
    with RecordedNode(blocks[:2], user="alice", password="p@ss:word") as node:
        assert node.url == f"http://alice:p%40ss%3Aword@127.0.0.1:{node.port}/"
        assert call(node, "getblockcount") == 1
        default = "Basic " + base64.b64encode(b"spector:secret").decode()
        assert post(node, {"method": "getblockcount"}, auth=default)[0] == 401


def test_only_post(node: RecordedNode) -> None:
    headers = {"Authorization": node.authorization}
    request = urllib.request.Request(node.address, headers=headers)  # noqa: S310 (local)
    with pytest.raises(HTTPError) as caught:
        _OPENER.open(request, timeout=10)
    with caught.value as error:
        assert error.code == 405
        assert error.read() == b"JSONRPC server handles only POST requests"


def test_getblockhash_getblock_round_trip(node: RecordedNode, blocks: list[bytes]) -> None:
    hashes = [call(node, "getblockhash", height) for height in range(11)]
    assert hashes[0] == GENESIS
    assert hashes[1] == BLOCK_1
    for height, h in enumerate(hashes):
        raw = bytes.fromhex(call(node, "getblock", h, 0))
        assert sha256d_hex(raw) == h == block_hash(raw)
        assert raw == blocks[height]
        if height:  # real main-net blocks: each names its parent
            assert raw[4:36][::-1].hex() == hashes[height - 1]
    assert call(node, "getblock", BLOCK_1.upper(), False) == blocks[1].hex()
    assert node.calls[:2] == [("getblockhash", [0]), ("getblockhash", [1])]
    assert ("getblock", [GENESIS, 0]) in node.calls


def test_named_params(node: RecordedNode) -> None:
    status, reply, _ = post(
        node, {"id": 5, "method": "getblock", "params": {"blockhash": GENESIS, "verbosity": 0}}
    )
    assert status == 200
    assert block_hash(bytes.fromhex(reply["result"])) == GENESIS


def test_batch(node: RecordedNode) -> None:
    batch = [
        {"jsonrpc": "1.0", "id": 0, "method": "getblockcount", "params": []},
        {"jsonrpc": "1.0", "id": 1, "method": "getblockhash", "params": [3]},
        {"jsonrpc": "1.0", "id": 2, "method": "getblockhash", "params": [11]},
        {"jsonrpc": "1.0", "id": 3, "method": "nosuchmethod", "params": []},
        "not an object",
    ]
    status, replies, _ = post(node, batch)
    assert status == 200  # errors of a batch travel inside it
    assert replies == [
        {"result": 10, "error": None, "id": 0},
        {"result": node.hashes[3], "error": None, "id": 1},
        {
            "result": None,
            "error": {"code": -8, "message": "Block height out of range"},
            "id": 2,
        },
        {"result": None, "error": {"code": -32601, "message": "Method not found"}, "id": 3},
        {
            "result": None,
            "error": {"code": -32600, "message": "Invalid Request object"},
            "id": None,
        },
    ]
    assert node.calls == [
        ("getblockcount", []),
        ("getblockhash", [3]),
        ("getblockhash", [11]),
        ("nosuchmethod", []),
    ]
    assert post(node, [])[:2] == (200, [])


@pytest.mark.parametrize(
    ("method", "params", "status", "code", "message"),
    [
        ("getblockhash", [11], 500, -8, "Block height out of range"),
        ("getblockhash", [-1], 500, -8, "Block height out of range"),
        (
            "getblockhash",
            ["1"],
            500,
            -3,
            "JSON value of type string is not of expected type number",
        ),
        ("getblockhash", [], 500, -1, "getblockhash height"),
        ("getblock", ["00" * 32, 0], 500, -5, "Block not found"),
        ("getblock", [GENESIS], 500, -8, "Verbosity not supported by this recording"),
        ("getblock", [GENESIS, 1], 500, -8, "Verbosity not supported by this recording"),
        ("getblock", [GENESIS, 2], 500, -8, "Verbosity not supported by this recording"),
        ("getblock", ["abc", 0], 500, -8, "blockhash must be of length 64 (not 3, for 'abc')"),
        (
            "getblock",
            ["zz" * 32, 0],
            500,
            -8,
            f"blockhash must be hexadecimal string (not '{'zz' * 32}')",
        ),
        ("getblock", [GENESIS, 0, 1], 500, -1, "getblock blockhash ( verbosity )"),
        ("getrawtransaction", ["00" * 32], 404, -32601, "Method not found"),
    ],
)
def test_errors(
    node: RecordedNode, method: str, params: list[Any], status: int, code: int, message: str
) -> None:
    got, reply, headers = post(
        node, {"jsonrpc": "1.0", "id": 7, "method": method, "params": params}
    )
    assert got == status
    assert headers["Content-Type"] == "application/json"
    assert reply == {"result": None, "error": {"code": code, "message": message}, "id": 7}


def test_malformed_requests(node: RecordedNode) -> None:
    status, reply, _ = post(node, None, raw=b"{not json")
    assert status == 500
    assert reply["error"] == {"code": -32700, "message": "Parse error"}
    status, reply, _ = post(node, {"id": 1, "params": []})
    assert status == 400
    assert reply["error"] == {"code": -32600, "message": "Missing method"}


def forked(block: bytes, salt: int) -> bytes:
    """``block`` with another nonce: another hash (the harness checks no proof of work)."""
    return block[:76] + struct.pack("<I", salt) + block[80:]


def test_replace_chain_is_a_reorg(node: RecordedNode, blocks: list[bytes]) -> None:
    before = node.hashes
    fork = [*blocks[:6], *(forked(b, 1000 + i) for i, b in enumerate(blocks[6:]))]
    fork.append(forked(blocks[10], 7))  # and one block longer
    node.replace_chain(fork)

    assert call(node, "getblockcount") == 11
    after = [call(node, "getblockhash", h) for h in range(12)]
    assert after[:6] == before[:6]
    assert all(a != b for a, b in zip(after[6:11], before[6:11], strict=True))
    assert call(node, "getbestblockhash") == after[11] == block_hash(fork[11])
    status, reply, _ = post(node, {"id": 1, "method": "getblock", "params": [before[8], 0]})
    assert (status, reply["error"]["code"]) == (500, -5)  # the stale block is gone
    assert bytes.fromhex(call(node, "getblock", after[8], 0)) == fork[8]

    # what a test of an incremental ingest asserts: which blocks were fetched
    node.calls.clear()
    call(node, "getblock", after[11], 0)
    assert [p[0] for m, p in node.calls if m == "getblock"] == [after[11]]


def test_recording_round_trip(node: RecordedNode, tmp_path: Path) -> None:
    path = tmp_path / "chain.jsonl"
    node.save_recording(path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["height"], r["hash"]) for r in rows] == list(enumerate(node.hashes))
    with RecordedNode.from_recording(path, chain="main", password="other") as again:
        assert again.hashes == node.hashes
        assert again.blocks == node.blocks
        assert again.url.endswith(f":other@127.0.0.1:{again.port}/")
        assert call(again, "getblockchaininfo")["chain"] == "main"

    rows[3]["hash"] = rows[4]["hash"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match=r"chain.jsonl:4: height or hash"):
        RecordedNode.from_recording(path)


def test_close_ends_keep_alive_connections(blocks: list[bytes]) -> None:
    node = RecordedNode(blocks[:3])
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)
    try:
        for height in (0, 1):  # two requests over one kept-alive connection
            body = json.dumps({"id": height, "method": "getblockhash", "params": [height]})
            conn.request("POST", "/", body, {"Authorization": node.authorization})
            with conn.getresponse() as response:
                assert response.status == 200
                assert json.loads(response.read())["result"] == node.hashes[height]
        assert node.http_requests == 2
        start = time.monotonic()
        node.close()  # the client still holds its connection open
        assert time.monotonic() - start < 5
        node.close()  # twice is fine
    finally:
        conn.close()
    with pytest.raises(URLError, match="refused"):
        _OPENER.open(node.address, timeout=2)


def test_an_empty_chain_is_refused() -> None:
    with pytest.raises(ValueError, match="genesis"):
        RecordedNode([])
