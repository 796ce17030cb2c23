"""Real mirror tools against sites served on 127.0.0.1, imported with `spector import pages`.

wget (``--mirror``, folder and ``--warc-file``) and HTTrack reach the sites through an HTTP
proxy on loopback that answers for onion hosts itself, as Privoxy in front of Tor did for
the darknet-market archives of 2011-2015: the mirrors are laid out under the onion host,
and nothing leaves the machine. A v2-onion site with the shapes mirror tools mangle
(queries, directories, gzip, chunked, a redirect, media), and a market of the training
range whose imported pages must extract as crawled ones do.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import threading
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from spector.cli import main
from spector.collect._import import ImportOptions, import_pages
from spector.store import Workspace

V2 = "dreamxyzabcdefgh.onion"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5d5a7a20000000049454e44ae426082"
)
Answer = tuple[int, dict[str, str], bytes]


def need(tool: str) -> str:
    """The tool's path; a skip where it is missing, but a failure on CI (.ci/run installs it)."""
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is not installed on CI (.ci/run should install it)")
        pytest.skip(f"{tool} is not installed")
    return found


class ProxySite:
    """An HTTP proxy on 127.0.0.1 that is itself the site for the hosts it knows."""

    def __init__(self, answer: Callable[[str, str, dict[str, str]], Answer | None]) -> None:
        self.answer = answer
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                target = urlsplit(self.path)
                found = outer.answer(
                    target.hostname or "", target.path, dict(parse_qsl(target.query))
                )
                status, headers, body = found or (
                    404,
                    {"Content-Type": "text/html"},
                    b"<html>no</html>",
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if headers.get("Transfer-Encoding") == "chunked":
                    self.end_headers()
                    for part in (body[:10], body[10:]):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def proxy(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ProxySite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def wget_mirror(site: ProxySite, url: str, out: Path, warc: Path | None = None) -> None:
    command = [need("wget"), "--no-config", "--mirror", "--adjust-extension", "--no-verbose"]
    command += ["-e", "robots=off", "--reject-regex", "/(logout|calendar|login)", "-P", str(out)]
    if warc is not None:
        command += [f"--warc-file={warc}", "--no-warc-keep-log"]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(out.parent),
        "http_proxy": f"http://{site.proxy}/",
    }
    done = subprocess.run([*command, url], env=env, capture_output=True, timeout=300, check=False)
    assert done.returncode in (0, 8), done.stderr.decode(errors="replace")  # 8: some 404s


def httrack_mirror(site: ProxySite, url: str, out: Path) -> None:
    command = [need("httrack"), url, "-O", str(out), "-P", site.proxy, "-s0", "-q", "-%v0"]
    command += ["-c8", "-%c50", "-*logout*", "-*calendar*", "-*login*"]
    env = {"PATH": os.environ["PATH"], "HOME": str(out.parent)}
    done = subprocess.run(command, env=env, capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")


# -- a v2-onion site with what mirror tools mangle ------------------------------------------
PAGES = {
    "/": b'<html><head><title>Dream</title><link rel="stylesheet" href="/s.css"></head><body>'
    b'<a href="/listing/1">one</a> <a href="/listing/2">two</a> <a href="/vendor?id=7">v</a> '
    b'<a href="/search.php?q=a&amp;page=2">s</a> <a href="/about/">about</a> '
    b'<img src="/logo.png"> <a href="/gz">gz</a> <a href="/chunk">chunk</a> '
    b'<a href="/old">old</a></body></html>',
    "/listing/1": b"<html><body><h1>Listing 1</h1><a href='/'>home</a></body></html>",
    "/listing/2": b"<html><body><h1>Listing 2</h1></body></html>",
    "/vendor?id=7": b"<html><body><h1>Vendor 7</h1></body></html>",
    "/search.php?q=a&page=2": b"<html><body>results</body></html>",
    "/about/": b"<html><body>about us</body></html>",
    "/gz": b"<html><body>a gzip'd page</body></html>",
    "/chunk": b"<html><body>a chunked page</body></html>",
}
SAVED = {f"http://{V2}{path}" for path in PAGES}  # what a mirror keeps as pages


def tiny_site(host: str, path: str, query: dict[str, str]) -> Answer | None:
    if host != V2:
        return None
    key = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    html = {"Content-Type": "text/html; charset=utf-8"}
    if key == "/old":
        return 301, {"Location": "/listing/1"}, b""
    if key == "/s.css":
        return 200, {"Content-Type": "text/css"}, b"body{color:red}"
    if key == "/logo.png":
        return 200, {"Content-Type": "text/html"}, PNG  # media that says it is a page
    if key == "/gz":
        return 200, {**html, "Content-Encoding": "gzip"}, gzip.compress(PAGES[key])
    if key == "/chunk":
        return 200, {**html, "Transfer-Encoding": "chunked"}, PAGES[key]
    return (200, html, PAGES[key]) if key in PAGES else None


def _captures(ws_root: Path, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["captures", "list", "--json", "-w", str(ws_root)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _archive_bytes(ws_root: Path) -> bytes:
    """Every byte the workspace's import archive holds, decompressed."""
    paths = sorted((ws_root / "warc").glob("import-*.warc.gz"))
    return b"".join(gzip.decompress(p.read_bytes()) for p in paths)


def test_wget_mirror_folder_and_warc_import_as_the_same_pages(tmp_path, ws_root, capsys):
    with ProxySite(tiny_site) as site:
        wget_mirror(site, f"http://{V2}/", tmp_path / "mirror", tmp_path / "dream")
    assert all(urlsplit(r).hostname == V2 for r in site.requests)  # the proxy saw only it
    folder, warc = tmp_path / "mirror", tmp_path / "dream.warc.gz"
    assert (folder / V2 / "vendor?id=7.html").is_file()  # wget's own layout, not ours
    assert main(["import", "pages", str(folder), "--market", "Dream", "-w", str(ws_root)]) == 0
    assert capsys.readouterr().out.startswith(f"imported {len(SAVED) + 1} pages from ")
    assert (
        main(["import", "pages", str(warc), "--market", "Dream", "--json", "-w", str(ws_root)]) == 0
    )
    twice = json.loads(capsys.readouterr().out)["already_imported"]  # /listing/1 in one second
    rows = _captures(ws_root, capsys)
    from_folder = {r["url"]: r for r in rows if r["time_basis"] == "file-mtime"}
    from_warc = [r for r in rows if r["time_basis"] == "warc-date"]
    assert set(from_folder) == SAVED | {f"http://{V2}/old"}  # wget saved /old's target there
    assert {r["url"] for r in from_warc if r["status"] == 200} == SAVED
    assert {r["url"] for r in from_warc if r["status"] == 301} == {f"http://{V2}/old"}
    for row in from_warc:  # wget wrote the same bytes to the folder and the WARC
        if row["status"] == 200:
            assert row["sha256"] == from_folder[row["url"]]["sha256"], row["url"]
            assert row["source_sha256"] == _sha256(warc.read_bytes())
            assert row["source_file"] == str(warc.resolve())
    for row in from_folder.values():
        assert row["source_sha256"] == _sha256(Path(row["source_file"]).read_bytes())
        assert row["source"] == f"import:{folder.resolve()}"
    assert from_folder[f"http://{V2}/gz"]["sha256"] == _sha256(PAGES["/gz"])  # gunzipped
    assert from_folder[f"http://{V2}/chunk"]["sha256"] == _sha256(PAGES["/chunk"])
    assert all(r["host"] == V2 and r["historical"] and r["site"] == "Dream" for r in rows)
    assert PNG not in _archive_bytes(ws_root)  # media never stored, whatever it claims
    with Workspace.open(ws_root) as ws:
        markets = ws.store.con.execute("SELECT name, onions FROM markets").fetchall()
        counts = ws.store.counts()
    assert markets == [("Dream", [V2])]
    sizes = {p.name: p.stat().st_size for p in (ws_root / "warc").iterdir()}
    assert main(["import", "pages", str(folder), str(warc), "--json", "-w", str(ws_root)]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["imported"], again["already_imported"]) == (0, len(rows) + twice)
    with Workspace.open(ws_root) as ws:
        assert ws.store.counts() == counts
    assert {p.name: p.stat().st_size for p in (ws_root / "warc").iterdir()} == sizes


def test_httrack_mirror_imports_with_and_without_its_cache(tmp_path, capsys):
    with ProxySite(tiny_site) as site:
        httrack_mirror(site, f"http://{V2}/", tmp_path / "project")
    assert all(urlsplit(r).hostname == V2 for r in site.requests)
    project = tmp_path / "project"
    assert (project / "hts-cache" / "new.txt").is_file()
    assert (project / "index.html").is_file()
    hashed = [p.name for p in (project / V2).glob("vendor*.html")]
    assert hashed
    assert hashed != ["vendor.html"]  # HTTrack names pages with a query by a hash
    seen = []
    for name, keep_cache in (("ws1", True), ("ws2", False)):
        if not keep_cache:
            shutil.rmtree(project / "hts-cache")  # then its "Mirrored from" comments tell
        with Workspace.init(tmp_path / name) as ws:
            report = import_pages(ws, [project], ImportOptions(market="Dream"))
            urls = {u for (u,) in ws.store.con.execute("SELECT url FROM captures").fetchall()}
        assert report.skipped["HTTrack's own files"] >= 1  # its project index is no page
        assert report.bad == []
        seen.append(urls)
    assert seen[0] == seen[1] == SAVED  # HTTrack keeps no page for the redirect


# -- a market of the training range: imported pages extract as crawled ones ---------------
@pytest.fixture(scope="module")
def range_mirror(tmp_path_factory):
    from email.utils import format_datetime

    from spector.sim import ServeOptions, generate, load_range
    from spector.sim._sites._base import site_now

    base = tmp_path_factory.mktemp("import-range")
    truth = generate(7, "tiny", base / "range")
    day = truth["day"]
    app = load_range(base / "range").app(ServeOptions(day=day))
    market = next(m for m in truth["markets"] if m["family"] == "escrow")

    def logged_in(host: str, path: str, query: dict[str, str]) -> Answer | None:
        state = app.hosts.get(host)
        if state is None:
            return None
        page = state.site.render(path, query, day)
        date = format_datetime(site_now(day), usegmt=True)
        headers = {"Content-Type": page.content_type, "Date": date, **page.headers}
        return page.status, headers, page.body.encode()

    with ProxySite(logged_in) as site:
        wget_mirror(site, f"http://{market['onions'][0]}/", base / "mirror", base / "market")
    return base, truth, market, site_now(day)


def test_a_range_market_mirrored_by_wget_extracts_field_exact(range_mirror, tmp_path):
    import pyarrow.parquet as pq

    from spector.extract._run import extract_captures
    from spector.model import Listing, Market, VendorAccount

    base, truth, market, site_time = range_mirror
    runs = {
        "warc": ([base / "market.warc.gz"], None),
        "folder": ([base / "mirror"], site_time.replace(tzinfo=None)),  # no Date header on disk
    }
    tables = {}
    for name, (paths, observed) in runs.items():
        with Workspace.init(tmp_path / name) as ws:
            options = ImportOptions(market=market["name"], template="escrow", observed_at=observed)
            assert import_pages(ws, paths, options).imported >= market["pages"] - 1
            report = extract_captures(ws)
            assert report.errors == 0
            assert report.extracted > 20
            con = ws.store.con
            tables[name] = {
                t: sorted(
                    con.execute(
                        f"SELECT * EXCLUDE (source, first_seen, last_seen) FROM {t}"
                    ).fetchall(),
                    key=str,
                )
                for t in ("listings", "vendor_accounts", "feedback")
            }
            mid = Market(name=market["name"], ref=f"onion:{market['onions'][0]}").id
            live = [
                x
                for x in pq.read_table(base / "range" / "world" / "listings.parquet").to_pylist()
                if x["market_id"] == market["market_id"]
                and x["start_day"] <= truth["day"] < x["end_day"]
            ]
            accounts = {
                a["account_id"]: a
                for a in pq.read_table(base / "range" / "world" / "accounts.parquet").to_pylist()
            }
            assert live
            for x in live:
                row = con.execute(
                    "SELECT title, category, price, currency, vendor_id FROM listings WHERE id = ?",
                    [Listing(market_id=mid, listing_ref=x["ref"]).id],
                ).fetchone()
                vendor = VendorAccount(market_id=mid, handle=accounts[x["account_id"]]["handle"])
                assert row == (x["title"], x["category"], x["shown_price"], "USD", vendor.id)
    assert tables["warc"] == tables["folder"]  # the same records, feedback times included
    assert tables["warc"]["feedback"]


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _members(data: bytes) -> list[int]:
    """Where each gzip member of a .warc.gz starts."""
    starts, position = [], 0
    while position < len(data):
        starts.append(position)
        decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
        decomp.decompress(data[position:])
        position = len(data) - len(decomp.unused_data)
    return starts


def test_a_wget_warc_cut_in_its_last_record_is_reported(tmp_path, ws_root, capsys):
    """wget's last gzip member is its log record, no page: a download cut there is still
    a truncated file, reported at that record, the pages before it imported."""
    with ProxySite(tiny_site) as site:
        wget_mirror(site, f"http://{V2}/", tmp_path / "mirror", tmp_path / "dream")
    whole = (tmp_path / "dream.warc.gz").read_bytes()
    last = _members(whole)[-1]
    assert b"wget" in gzip.decompress(whole[last:])  # wget's log (or manifest) resource
    with Workspace.init(tmp_path / "full") as ws:
        full = import_pages(ws, [tmp_path / "dream.warc.gz"], ImportOptions())
    assert full.bad == []
    tail = len(whole) - last
    for n in sorted({1, 3, 10, tail // 3, tail // 2, tail - 9, tail - 8, tail - 4, tail - 1}):
        cut = tmp_path / f"cut{n}.warc.gz"
        cut.write_bytes(whole[: last + n])
        with Workspace.init(tmp_path / f"ws{n}") as ws:
            report = import_pages(ws, [cut], ImportOptions(skip_bad=True))
        assert report.bad == [(f"{cut}@{last}", "the file ends inside a record")], n
        assert report.imported == full.imported, n  # every page before the cut
    cut = tmp_path / f"cut{tail // 2}.warc.gz"
    capsys.readouterr()
    assert main(["import", "pages", str(cut), "-w", str(ws_root)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [err.strip()]  # one line: nothing warcio printed
    assert err.startswith(f"error: {cut.resolve()}@{last}: the file ends inside a record")
    assert main(["import", "pages", str(cut), "--skip-bad", "--json", "-w", str(ws_root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["imported"], report["bad"]) == (full.imported, 1)
