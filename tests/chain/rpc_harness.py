"""A recorded Bitcoin Core: the JSON-RPC calls an ingest makes, answered from a list of blocks.

No node runs in the tests. ``RecordedNode(blocks)`` serves ``blocks`` (``blocks[0]`` at
height 0) over HTTP on 127.0.0.1 the way bitcoind answers JSON-RPC 1.0: POST with basic
auth (else 401, empty body), single requests or batches, the error codes and HTTP statuses
bitcoind uses. Only the calls an ingest needs exist: getblockchaininfo, getblockcount,
getbestblockhash, getblockhash, getblock at verbosity 0. Block hashes come from the 80-byte
headers; the blocks are not otherwise checked (they need not even link up).

``calls`` lists every (method, params) received, so a test can say what was fetched;
``replace_chain`` swaps the chain (a reorg between two ingests). ``save_recording`` and
``from_recording`` keep a chain as JSON lines ``{"height", "hash", "hex"}``.

    with RecordedNode(blocks) as node:
        ingest(node.url)   # http://spector:secret@127.0.0.1:PORT/
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = ["RecordedNode", "RpcError", "block_hash"]

# bitcoind's codes (src/rpc/protocol.h)
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
PARSE_ERROR = -32700
MISC_ERROR = -1
TYPE_ERROR = -3
INVALID_ADDRESS_OR_KEY = -5
INVALID_PARAMETER = -8


def block_hash(block: bytes) -> str:
    """The block's hash, display order (double SHA-256 of the header, reversed) in hex."""
    if len(block) < 80:
        raise ValueError(f"{len(block)} bytes is too short for a block header")
    return hashlib.sha256(hashlib.sha256(block[:80]).digest()).digest()[::-1].hex()


class RpcError(Exception):
    """An error reply: ``{"code": code, "message": message}``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _http_status(code: int) -> int:
    """The HTTP status bitcoind sends with a single request's error (JSONErrorReply)."""
    return {INVALID_REQUEST: 400, METHOD_NOT_FOUND: 404}.get(code, 500)


class _Chain:
    """One immutable chain: swapped whole, so a request sees one chain or the other."""

    def __init__(self, blocks: Sequence[bytes]) -> None:
        if not blocks:
            raise ValueError("a node has at least a genesis block")
        self.blocks = [bytes(b) for b in blocks]
        self.hashes = [block_hash(b) for b in self.blocks]
        self.height_of = {h: i for i, h in enumerate(self.hashes)}


class RecordedNode:
    """A stand-in bitcoind serving ``blocks`` until ``close()`` (or the end of ``with``)."""

    def __init__(
        self,
        blocks: Sequence[bytes],
        *,
        chain: str = "regtest",
        user: str = "spector",
        password: str = "secret",  # noqa: S107 (a stand-in's credentials)
    ) -> None:
        self.chain = chain
        self.user = user
        self.password = password
        self.calls: list[tuple[str, Any]] = []
        self.http_requests = 0
        self._chain = _Chain(blocks)
        self._expected = self._basic(user, password)
        self._methods: dict[str, tuple[tuple[str, ...], int, Callable[..., Any]]] = {
            # name: (parameter names, how many are required, implementation)
            "getblockchaininfo": ((), 0, self._getblockchaininfo),
            "getblockcount": ((), 0, lambda: len(self._chain.blocks) - 1),
            "getbestblockhash": ((), 0, lambda: self._chain.hashes[-1]),
            "getblockhash": (("height",), 1, self._getblockhash),
            "getblock": (("blockhash", "verbosity"), 1, self._getblock),
        }
        self._lock = threading.Lock()
        self._closed = False
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"recorded-node-{self.port}",
            daemon=True,
        )
        self._thread.start()

    # --- the test's side -------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """The URL without credentials (``urllib`` wants them in a header)."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def url(self) -> str:
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        return f"http://{user}:{password}@127.0.0.1:{self.port}/"

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value the node accepts."""
        return self._expected

    @property
    def hashes(self) -> list[str]:
        """The served chain's block hashes, by height."""
        return list(self._chain.hashes)

    @property
    def blocks(self) -> list[bytes]:
        return list(self._chain.blocks)

    def replace_chain(self, blocks: Sequence[bytes]) -> None:
        """Serve ``blocks`` from now on (a reorg: keep a prefix, change the rest)."""
        self._chain = _Chain(blocks)

    @classmethod
    def from_recording(cls, path: str | Path, **options: Any) -> RecordedNode:
        """A node serving the chain ``save_recording`` wrote (hashes and heights checked)."""
        blocks: list[bytes] = []
        with Path(path).open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                block = bytes.fromhex(row["hex"])
                if row["height"] != len(blocks) or row["hash"] != block_hash(block):
                    raise ValueError(f"{path}:{number}: height or hash does not match the block")
                blocks.append(block)
        return cls(blocks, **options)

    def save_recording(self, path: str | Path) -> None:
        """Write the served chain as JSON lines ``{"height", "hash", "hex"}``."""
        chain = self._chain
        with Path(path).open("w", encoding="utf-8") as handle:
            for height, (h, block) in enumerate(zip(chain.hashes, chain.blocks, strict=True)):
                handle.write(json.dumps({"height": height, "hash": h, "hex": block.hex()}) + "\n")

    def close(self) -> None:
        """Stop serving, end open connections, join every thread, close every socket."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._thread.join()
        self._server.end_connections()
        self._server.server_close()  # joins the request threads

    def __enter__(self) -> RecordedNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RecordedNode({self.address}, {self.chain}, height {len(self._chain.blocks) - 1})"

    # --- the node's side ---------------------------------------------------------------

    @staticmethod
    def _basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def authorized(self, header: str | None) -> bool:
        return header is not None and hmac.compare_digest(header.encode(), self._expected.encode())

    def answer(self, body: bytes) -> tuple[int, bytes]:
        """HTTP status and body for a request body (already authenticated)."""
        try:
            request = json.loads(body)
        except ValueError:
            return 500, _dump(_reply(None, RpcError(PARSE_ERROR, "Parse error"), None))
        if isinstance(request, list):
            return 200, _dump([self._one(r) for r in request])
        if not isinstance(request, dict):
            error = RpcError(PARSE_ERROR, "Top-level object parse error")
            return 500, _dump(_reply(None, error, None))
        reply = self._one(request)
        error = reply["error"]
        return (200 if error is None else _http_status(error["code"])), _dump(reply)

    def _one(self, request: object) -> dict[str, Any]:
        if not isinstance(request, dict):
            return _reply(None, RpcError(INVALID_REQUEST, "Invalid Request object"), None)
        rid = request.get("id")
        try:
            return _reply(self._call(request), None, rid)
        except RpcError as error:
            return _reply(None, error, rid)

    def _call(self, request: dict[str, Any]) -> Any:
        method = request.get("method")
        if method is None:
            raise RpcError(INVALID_REQUEST, "Missing method")
        if not isinstance(method, str):
            raise RpcError(INVALID_REQUEST, "Method must be a string")
        params = request.get("params")
        params = [] if params is None else params
        with self._lock:
            self.calls.append((method, params))
        if not isinstance(params, list | dict):
            raise RpcError(INVALID_REQUEST, "Params must be an array or object")
        if method not in self._methods:
            raise RpcError(METHOD_NOT_FOUND, "Method not found")
        names, required, run = self._methods[method]
        if isinstance(params, dict):
            unknown = sorted(set(params) - set(names))
            if unknown:
                raise RpcError(INVALID_PARAMETER, f"Unknown named parameter {unknown[0]}")
            if any(n not in params for n in names[:required]):
                raise _usage(method, names, required)
            params = [params[n] for n in names if n in params]
        if not required <= len(params) <= len(names):
            raise _usage(method, names, required)
        return run(*params)

    def _getblockchaininfo(self) -> dict[str, Any]:
        chain = self._chain
        return {
            "chain": self.chain,
            "blocks": len(chain.blocks) - 1,
            "bestblockhash": chain.hashes[-1],
        }

    def _getblockhash(self, height: Any) -> str:
        if not isinstance(height, int) or isinstance(height, bool):
            raise RpcError(
                TYPE_ERROR,
                f"JSON value of type {_json_type(height)} is not of expected type number",
            )
        hashes = self._chain.hashes
        if not 0 <= height < len(hashes):
            raise RpcError(INVALID_PARAMETER, "Block height out of range")
        return hashes[height]

    def _getblock(self, blockhash: Any, verbosity: Any = 1) -> str:
        if not isinstance(blockhash, str):
            raise RpcError(
                TYPE_ERROR,
                f"JSON value of type {_json_type(blockhash)} is not of expected type string",
            )
        if len(blockhash) != 64:
            raise RpcError(
                INVALID_PARAMETER,
                f"blockhash must be of length 64 (not {len(blockhash)}, for '{blockhash}')",
            )
        try:
            bytes.fromhex(blockhash)
        except ValueError:
            raise RpcError(
                INVALID_PARAMETER, f"blockhash must be hexadecimal string (not '{blockhash}')"
            ) from None
        if verbosity is not False and verbosity != 0:  # bitcoind takes false for 0
            raise RpcError(INVALID_PARAMETER, "Verbosity not supported by this recording")
        chain = self._chain
        height = chain.height_of.get(blockhash.lower())
        if height is None:
            raise RpcError(INVALID_ADDRESS_OR_KEY, "Block not found")
        return chain.blocks[height].hex()


def _usage(method: str, names: tuple[str, ...], required: int) -> RpcError:
    """bitcoind answers a wrong number of arguments with code -1 and the method's help."""
    optional = (f"( {n} )" for n in names[required:])
    return RpcError(MISC_ERROR, " ".join([method, *names[:required], *optional]))


def _reply(result: Any, error: RpcError | None, rid: Any) -> dict[str, Any]:
    err = None if error is None else {"code": error.code, "message": error.message}
    return {"result": result, "error": err, "id": rid}


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj) + "\n").encode()


def _json_type(value: Any) -> str:
    names = {
        bool: "bool",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }
    return "null" if value is None else names.get(type(value), "unknown")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as bitcoind
    server_version = "bitcoin-json-rpc/recorded"
    sys_version = ""
    timeout = 30  # a connection left idle ends (close() ends them at once)
    server: _Server

    def do_POST(self) -> None:
        node = self.server.node
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            self._send(400, b"", close=True)
            return
        body = self.rfile.read(length)
        with node._lock:
            node.http_requests += 1
        if not node.authorized(self.headers.get("Authorization")):
            self._send(401, b"", {"WWW-Authenticate": 'Basic realm="jsonrpc"'})
            return
        status, payload = node.answer(body)
        self._send(status, payload, {"Content-Type": "application/json"})

    def do_GET(self) -> None:
        self._send(405, b"JSONRPC server handles only POST requests")

    do_PUT = do_DELETE = do_HEAD = do_GET

    def _send(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, close: bool = False
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # the base's signature
        pass  # quiet: tests read .calls, not a log


class _Server(ThreadingHTTPServer):
    """Non-daemon request threads (``server_close`` joins them) and a list of open
    connections, so ``close()`` can end keep-alive connections a client left open."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, node: RecordedNode) -> None:
        self.node = node
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def end_connections(self) -> None:
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # not a client gone or close()
            super().handle_error(request, client_address)
