"""WARC files of other crawlers, written here with warcio as they write them: Heritrix
(WARC/1.0, gzip'd per record, SHA-1 base32 digests, dns: and metadata records, payloads
as transferred: chunked and gzip'd), Browsertrix (WARC/1.1, SHA-256 hex digests,
microsecond dates, revisits, ``<>``-bracketed URIs as old writers did, urn: resources).
Bad records are skipped and counted; a truncated file is an error that stores nothing."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from spector.cli import main
from spector.collect import read_stored
from spector.collect._import import ImportOptions, import_pages
from spector.collect._import_warc import WarcTruncated, read_warc
from spector.store import Workspace

HOST = "silkroadvb5piz3r.onion"  # a v2 onion, as markets of 2011-2015 had
LISTING = b"<html><head><title>Listing 1</title></head><body><h1>Listing 1</h1></body></html>"
LISTING_2 = b"<html><body><h1>Listing 2</h1><p>on sale</p></body></html>"
NOT_FOUND = b"<html><body>no such item</body></html>"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def _chunked(data: bytes, size: int = 16) -> bytes:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def _http(status: str, *headers: tuple[str, str]) -> StatusAndHeaders:
    return StatusAndHeaders(status, list(headers), protocol="HTTP/1.1")


def _response(writer, url, body, http, date, **extra):
    return writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=http,
        warc_headers_dict={"WARC-Date": date, **extra},
    )


def heritrix_warc(path: Path, *, gz: bool = True) -> None:
    """As Heritrix 3 writes: warcinfo, dns:, request/response pairs, metadata, a revisit."""
    with path.open("wb") as handle:
        w = WARCWriter(handle, gzip=gz, warc_version="1.0")  # sha1 base32 digests
        w.write_record(w.create_warcinfo_record(path.name, {"software": "Heritrix/3.4.0"}))
        dns = b"20140101120000\nsilkroadvb5piz3r.onion. 300 IN A 127.0.0.1\n"
        w.write_record(
            w.create_warc_record(
                f"dns:{HOST}",
                "response",
                payload=io.BytesIO(dns),
                length=len(dns),
                warc_content_type="text/dns",
                warc_headers_dict={"WARC-Date": "2014-01-01T12:00:00Z"},
            )
        )
        w.write_record(
            w.create_warc_record(
                f"http://{HOST}/listing/1",
                "request",
                payload=io.BytesIO(b""),
                length=0,
                http_headers=StatusAndHeaders(
                    "GET /listing/1 HTTP/1.1", [("Host", HOST)], is_http_request=True
                ),
                warc_headers_dict={"WARC-Date": "2014-01-01T12:00:01Z"},
            )
        )
        transferred = _chunked(gzip.compress(LISTING))  # as it came over the wire
        first = _response(
            w,
            f"http://{HOST}/listing/1",
            transferred,
            _http(
                "200 OK",
                ("Content-Type", "text/html; charset=utf-8"),
                ("Transfer-Encoding", "chunked"),
                ("Content-Encoding", "gzip"),
                ("Date", "Wed, 01 Jan 2014 12:00:01 GMT"),
            ),
            "2014-01-01T12:00:01Z",
        )
        w.write_record(first)
        outlinks = b"outlink: http://silkroadvb5piz3r.onion/listing/2 L a/@href\n"
        w.write_record(
            w.create_warc_record(
                f"http://{HOST}/listing/1",
                "metadata",
                payload=io.BytesIO(outlinks),
                length=len(outlinks),
                warc_content_type="application/warc-fields",
                warc_headers_dict={"WARC-Date": "2014-01-01T12:00:01Z"},
            )
        )
        w.write_record(
            _response(
                w,
                f"http://{HOST}/logo.png",
                PNG,
                _http("200 OK", ("Content-Type", "text/html")),  # media that says it is a page
                "2014-01-01T12:00:02Z",
            )
        )
        w.write_record(
            _response(
                w,
                f"http://{HOST}/listing/9",
                NOT_FOUND,
                _http("404 Not Found", ("Content-Type", "text/html")),
                "2014-01-01T12:00:03Z",
            )
        )
        w.write_record(
            _response(
                w,
                f"http://{HOST}/listing/2",
                LISTING_2[:30],
                _http("200 OK", ("Content-Type", "text/html")),
                "2014-01-01T12:00:04Z",
                **{"WARC-Truncated": "length"},
            )
        )
        revisit = w.create_revisit_record(
            f"http://{HOST}/listing/1",
            first.rec_headers.get_header("WARC-Payload-Digest"),
            f"http://{HOST}/listing/1",
            "2014-01-01T12:00:01Z",
            http_headers=_http("200 OK", ("Content-Type", "text/html; charset=utf-8")),
        )
        revisit.rec_headers.replace_header("WARC-Date", "2014-01-08T12:00:00Z")
        w.write_record(revisit)
        older = w.create_revisit_record(  # as Heritrix 1 wrote them: by the digest alone
            f"http://{HOST}/listing/1",
            first.rec_headers.get_header("WARC-Payload-Digest"),
            "-",
            "-",
            http_headers=_http("200 OK", ("Content-Type", "text/html; charset=utf-8")),
        )
        older.rec_headers.remove_header("WARC-Refers-To-Target-URI")
        older.rec_headers.remove_header("WARC-Refers-To-Date")
        older.rec_headers.replace_header("WARC-Date", "2014-01-15T12:00:00Z")
        w.write_record(older)


def browsertrix_warc(path: Path, *, gz: bool = False) -> None:
    """As Browsertrix / older writers: WARC/1.1, sha256 hex, <>-bracketed URIs, revisits
    that point at the record id, urn: resource records."""

    class Sha256Hex(WARCWriter):
        @staticmethod
        def _create_digester():
            from warcio.utils import Digester

            class Hex(Digester):
                def __str__(self):
                    return "sha256:" + self.digester.hexdigest()

            return Hex("sha256")

    with path.open("wb") as handle:
        w = Sha256Hex(handle, gzip=gz, warc_version="1.1")
        w.write_record(w.create_warcinfo_record(path.name, {"software": "Browsertrix-Crawler"}))
        page = _response(
            w,
            f"<http://{HOST}/listing/2>",
            LISTING_2,
            _http("200 OK", ("Content-Type", "text/html")),
            "2014-02-01T10:00:00.123456Z",
        )
        w.write_record(page)
        info = b'{"pages": 1}'
        w.write_record(
            w.create_warc_record(
                "urn:pageinfo:http://silkroadvb5piz3r.onion/listing/2",
                "resource",
                payload=io.BytesIO(info),
                length=len(info),
                warc_content_type="application/json",
                warc_headers_dict={"WARC-Date": "2014-02-01T10:00:00.200000Z"},
            )
        )
        revisit = w.create_revisit_record(
            f"<http://{HOST}/listing/2>",
            page.rec_headers.get_header("WARC-Payload-Digest"),
            f"<http://{HOST}/listing/2>",
            "2014-02-01T10:00:00.123456Z",
            http_headers=_http("200 OK", ("Content-Type", "text/html")),
        )
        revisit.rec_headers.replace_header("WARC-Date", "2014-02-02T10:00:00Z")
        revisit.rec_headers.add_header(
            "WARC-Refers-To", page.rec_headers.get_header("WARC-Record-ID")
        )
        w.write_record(revisit)
        orphan = w.create_revisit_record(
            f"http://{HOST}/listing/3",
            "sha256:" + "ab" * 32,
            f"http://{HOST}/listing/3",
            "2013-12-01T00:00:00Z",
            http_headers=_http("200 OK", ("Content-Type", "text/html")),
        )
        orphan.rec_headers.replace_header("WARC-Date", "2014-02-03T10:00:00Z")
        w.write_record(orphan)


def _rows(ws: Workspace) -> list[dict]:
    names = ["url", "status", "sha256", "record_type", "fetched_at", "time_basis", "truncated"]
    names += ["reason", "warc_file", "warc_offset", "source_file", "source_sha256", "site"]
    rows = ws.store.con.execute(
        f"SELECT {', '.join(names)} FROM captures ORDER BY fetched_at, url"
    ).fetchall()
    return [dict(zip(names, r, strict=True)) for r in rows]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_heritrix_warc(tmp_path, workspace):
    warc = tmp_path / "heritrix.warc.gz"
    heritrix_warc(warc)
    report = import_pages(workspace, [warc], ImportOptions(market="Silk Road"))
    rows = _rows(workspace)
    assert [(r["url"].rsplit("/", 2)[-2:], r["status"], r["record_type"]) for r in rows] == [
        (["listing", "1"], 200, "response"),
        (["listing", "9"], 404, "response"),
        (["listing", "2"], 200, "response"),
        (["listing", "1"], 200, "revisit"),
        (["listing", "1"], 200, "revisit"),
    ]
    listing, missing, cut, again, older = rows
    assert listing["sha256"] == _sha(LISTING)  # de-chunked and gunzipped, as warcio reads it
    stored = read_stored(workspace.root / listing["warc_file"], listing["warc_offset"])
    assert stored.body == LISTING
    assert stored.date == "Wed, 01 Jan 2014 12:00:01 GMT"  # the site's clock, for "3 days ago"
    assert str(listing["fetched_at"]) == "2014-01-01 12:00:01"
    assert {r["time_basis"] for r in rows} == {"warc-date"}
    assert missing["sha256"] == _sha(NOT_FOUND)
    assert cut["truncated"] is True
    assert "WARC-Truncated: length" in cut["reason"]
    assert again["sha256"] == _sha(LISTING)  # the revisit knows what it repeats
    assert older["sha256"] == _sha(LISTING)  # also when it names only the payload digest
    assert str(again["fetched_at"]) == "2014-01-08 12:00:00"
    assert all(r["source_sha256"] == _sha(warc.read_bytes()) for r in rows)
    assert all(r["site"] == "Silk Road" for r in rows)
    assert (report.imported, report.revisits) == (5, 2)
    assert report.skipped == {
        "warcinfo records": 1,
        "records of other schemes (dns:, urn:, metadata:)": 1,
        "request records": 1,
        "metadata records": 1,
        "media (never stored)": 1,
    }
    archive = b"".join(
        gzip.decompress(p.read_bytes()) for p in (workspace.root / "warc").glob("import-*")
    )
    assert PNG not in archive
    with (workspace.root / listing["warc_file"]).open("rb") as handle:
        handle.seek(listing["warc_offset"])
        record = next(iter(ArchiveIterator(handle)))
        headers = dict(record.rec_headers.headers)
    assert headers["WARC-Type"] == "response"
    assert headers["Spector-Source-File"] == str(warc.resolve())
    assert int(headers["Spector-Source-Offset"]) > 0  # where to find it in the original
    assert headers["WARC-Payload-Digest"].startswith("sha256:")
    assert "Spector-Synthesised-HTTP" not in headers  # the HTTP exchange is the real one


def test_browsertrix_warc_and_revisits_across_files(tmp_path, workspace):
    plain = tmp_path / "crawl-1.warc"
    browsertrix_warc(plain)
    heritrix = tmp_path / "h.warc.gz"
    heritrix_warc(heritrix)
    report = import_pages(workspace, [plain], ImportOptions())
    rows = _rows(workspace)
    assert [(r["url"], r["record_type"]) for r in rows] == [
        (f"http://{HOST}/listing/2", "response"),  # the <> are gone
        (f"http://{HOST}/listing/2", "revisit"),
        (f"http://{HOST}/listing/3", "revisit"),
    ]
    page, again, orphan = rows
    assert str(page["fetched_at"]) == "2014-02-01 10:00:00.123456"
    assert again["sha256"] == page["sha256"] == _sha(LISTING_2)  # found by WARC-Refers-To
    assert orphan["sha256"] is None
    assert "not in this import" in orphan["reason"]
    assert report.skipped["records of other schemes (dns:, urn:, metadata:)"] == 1
    assert {r["site"] for r in rows} == {HOST}  # no --market: the host names it
    # A later import's revisit finds its capture in the store (by URI and date).
    later = tmp_path / "later.warc.gz"
    with later.open("wb") as handle:
        w = WARCWriter(handle, gzip=True)
        revisit = w.create_revisit_record(
            f"http://{HOST}/listing/2",
            "sha1:UNKNOWNDIGESTUNKNOWNDIGESTUNKNOWN",
            f"http://{HOST}/listing/2",
            "2014-02-01T10:00:00.123456Z",
            http_headers=_http("200 OK", ("Content-Type", "text/html")),
        )
        revisit.rec_headers.replace_header("WARC-Date", "2014-03-01T00:00:00Z")
        w.write_record(revisit)
    import_pages(workspace, [later], ImportOptions())
    (latest,) = [r for r in _rows(workspace) if str(r["fetched_at"]) == "2014-03-01 00:00:00"]
    assert latest["sha256"] == _sha(LISTING_2)


def test_reimport_and_a_recompressed_copy_add_nothing(tmp_path, workspace):
    plain = tmp_path / "crawl.warc"
    browsertrix_warc(plain)
    copy = tmp_path / "copy.warc.gz"
    copy.write_bytes(gzip.compress(plain.read_bytes()))  # one gzip member: another file
    import_pages(workspace, [plain], ImportOptions())
    counts = workspace.store.counts()
    sizes = [p.stat().st_size for p in sorted((workspace.root / "warc").iterdir())]
    again = import_pages(workspace, [plain], ImportOptions())
    assert (again.imported, again.already) == (0, 3)
    other = import_pages(workspace, [copy], ImportOptions())
    assert (other.imported, other.already) == (0, 3)
    assert workspace.store.counts() == counts
    assert [p.stat().st_size for p in sorted((workspace.root / "warc").iterdir())] == sizes


def _flip(data: bytes, start: int, n: int = 20) -> bytes:
    out = bytearray(data)
    for i in range(start, start + n):
        out[i] ^= 0xFF
    return bytes(out)


def _offsets(path: Path) -> list[int]:
    with path.open("rb") as handle:
        records = ArchiveIterator(handle)
        out = []
        for record in records:
            record.content_stream().read()
            out.append(records.get_record_offset())
    return out


def test_bad_records_are_skipped_and_counted(tmp_path, workspace):
    good = tmp_path / "good.warc.gz"
    heritrix_warc(good)
    offsets = _offsets(good)
    # the gzip member of the first page is broken; the records after it still count
    broken = tmp_path / "broken.warc.gz"
    broken.write_bytes(_flip(good.read_bytes(), offsets[3] + 30))
    report = import_pages(workspace, [broken], ImportOptions())
    assert [(where.rsplit("@", 1)[1], why) for where, why in report.bad] == [
        (str(offsets[3]), "a gzip member that does not decompress (corrupt bytes)")
    ]
    urls = [r["url"].rsplit("/", 1)[1] for r in _rows(workspace)]
    assert urls == ["9", "2", "1", "1"]  # the 404, the cut page, revisits (of nothing known)
    # a payload changed after the crawl: its digest no longer matches
    plain = tmp_path / "b.warc"
    browsertrix_warc(plain)
    tampered = tmp_path / "tampered.warc"
    tampered.write_bytes(plain.read_bytes().replace(b"on sale", b"on SALE"))
    bad = import_pages(workspace, [tampered], ImportOptions()).bad
    assert len(bad) == 1
    assert "digest failed" in bad[0][1]
    # garbage where a record header should be
    garbled = tmp_path / "garbled.warc"
    garbled.write_bytes(plain.read_bytes().replace(b"WARC/1.1\r\nWARC-Type: revisit", b"XARC", 1))
    report = import_pages(workspace, [garbled], ImportOptions())
    assert len(report.bad) == 1
    assert "not a WARC record header" in report.bad[0][1]


@pytest.mark.parametrize("layout", ["gzip per record", "plain", "gzip'd whole"])
def test_a_truncated_warc_is_an_error_and_stores_nothing(tmp_path, ws_root, capsys, layout):
    whole = tmp_path / ("w.warc" if layout == "plain" else "w.warc.gz")
    heritrix_warc(whole, gz=layout == "gzip per record")
    if layout == "gzip'd whole":
        whole.write_bytes(gzip.compress(whole.read_bytes()))
    first = tmp_path / "first.warc"
    browsertrix_warc(first)
    assert main(["import", "pages", str(first), "-w", str(ws_root)]) == 0
    with Workspace.open(ws_root) as ws:
        before = _rows(ws)
    sizes = {p: p.stat().st_size for p in (ws_root / "warc").iterdir()}
    cut = tmp_path / ("cut" + whole.name.removeprefix("w"))
    cut.write_bytes(whole.read_bytes()[:-25])
    capsys.readouterr()
    assert main(["import", "pages", str(cut), "-w", str(ws_root)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {cut.resolve()}@")
    assert "ends inside" in err
    assert len(err.splitlines()) == 1
    with Workspace.open(ws_root) as ws:
        assert _rows(ws) == before  # nothing already stored is lost, nothing half-added
    assert {p: p.stat().st_size for p in (ws_root / "warc").iterdir()} == sizes
    # with --skip-bad the complete records are imported and the cut one is counted
    assert main(["import", "pages", str(cut), "--skip-bad", "--json", "-w", str(ws_root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bad"] == 1
    assert report["imported"] >= 1


def test_records_no_capture_knows_are_cut_before_the_next_import(tmp_path, workspace, monkeypatch):
    """An import killed between the archive write and the store write leaves records no
    capture points at; the next import cuts them before it appends."""
    from spector.collect._import_archive import ImportArchive
    from spector.collect._import_markets import MarketBook

    first, second = tmp_path / "first.warc", tmp_path / "second.warc.gz"
    browsertrix_warc(first)
    heritrix_warc(second)
    import_pages(workspace, [first], ImportOptions())
    with monkeypatch.context() as patch:  # as if killed: no store write, no clean-up
        patch.setattr(MarketBook, "store", lambda *a, **k: (_ for _ in ()).throw(OSError("kill")))
        patch.setattr(ImportArchive, "rollback", lambda self, mark: None)
        with pytest.raises(OSError, match="kill"):
            import_pages(workspace, [second], ImportOptions())
    files = sorted((workspace.root / "warc").glob("import-*.warc.gz"))
    orphans = sum(len(_offsets(f)) for f in files) - len(_rows(workspace))
    assert orphans > 0
    import_pages(workspace, [second], ImportOptions())
    rows = _rows(workspace)
    stored = {(r["warc_file"].removeprefix("warc/"), r["warc_offset"]) for r in rows}
    in_files = {(f.name, o) for f in files for o in _offsets(f)}
    assert in_files == stored  # every record is a capture's, and every capture's is there


def _cut_points(size: int, starts: list[int]) -> list[int]:
    """Every byte of the last record, a few on each side of every record start, and a
    stride through the rest."""
    points = set(range(starts[-1], size)) | set(range(1, size, 41))
    for start in starts:
        points |= set(range(max(1, start - 5), min(size, start + 12)))
    return sorted(points)


def _layouts(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, write, gz in (
        ("heritrix.warc.gz", heritrix_warc, True),
        ("heritrix.warc", heritrix_warc, False),
        ("browsertrix.warc", browsertrix_warc, False),
        ("browsertrix.warc.gz", browsertrix_warc, True),
    ):
        write(tmp_path / name, gz=gz)
        out[name] = tmp_path / name
    return out


def test_a_cut_anywhere_is_reported_at_the_record_it_lands_in(tmp_path):
    """Per-record gzip and plain files cut at any byte (in a header block, a block, the
    blank lines that close a record, a gzip header or trailer; in a page or in a record
    that holds none): the records before the cut, then ``WarcTruncated`` naming the
    record the cut lands in. A cut on a record boundary leaves a whole, shorter file."""
    for name, path in _layouts(tmp_path).items():
        data = path.read_bytes()
        starts = _offsets(path)
        complete = [item.offset for item in read_warc(path)]
        cut = tmp_path / f"cut-{name}"
        for n in _cut_points(len(data), starts):
            cut.write_bytes(data[:n])
            seen: list[int] = []
            error = None
            try:
                seen.extend(item.offset for item in read_warc(cut))
            except WarcTruncated as exc:
                error = exc
            if n in starts:
                assert (seen, error) == ([o for o in complete if o < n], None), (name, n)
                continue
            record = max(o for o in starts if o < n)
            assert error is not None, (name, n)
            assert error.where == f"{cut}@{record}", (name, n)
            assert seen == [o for o in complete if o < record], (name, n)


def test_a_file_gzipped_whole_cut_anywhere_is_reported(tmp_path):
    plain = tmp_path / "b.warc"
    browsertrix_warc(plain)
    data = gzip.compress(plain.read_bytes())
    complete = [item.offset for item in read_warc(plain)]
    cut = tmp_path / "cut.warc.gz"
    for n in [*range(1, 30), *range(30, len(data), 23), *range(len(data) - 12, len(data))]:
        cut.write_bytes(data[:n])
        seen: list[int] = []
        with pytest.raises(WarcTruncated):
            seen.extend(item.offset for item in read_warc(cut))
        assert seen == complete[: len(seen)], n  # whole records only, in order


def _without_digests(data: bytes) -> bytes:
    return re.sub(rb"WARC-(Block|Payload)-Digest: [^\r]*\r\n", b"", data)


def test_what_warcio_only_prints_makes_a_bad_record(tmp_path, capsys):
    """warcio prints a decoding error past a stream's first block (and stops the body
    there), and a block longer than its Content-Length, to stderr and goes on: with no
    digest to catch them, they are bad records here, and nothing reaches stderr."""
    rows = "".join(
        f"<tr><td>{i}</td><td>{hashlib.sha256(b'%d' % i).hexdigest()}</td></tr>"
        for i in range(3000)
    )
    page = f"<html><body><table>{rows}</table></body></html>".encode()
    packed = bytearray(gzip.compress(page))
    assert len(packed) > 60_000  # past warcio's first 16 KiB block
    packed[40_000:40_020] = bytes(20)
    path = tmp_path / "p.warc"
    with path.open("wb") as handle:
        w = WARCWriter(handle, gzip=False)
        head = [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]
        w.write_record(
            _response(
                w,
                f"http://{HOST}/big",
                bytes(packed),
                _http("200 OK", *head),
                "2014-01-01T00:00:00Z",
            )
        )
        w.write_record(
            _response(
                w,
                f"http://{HOST}/listing/1",
                LISTING,
                _http("200 OK", ("Content-Type", "text/html")),
                "2014-01-01T00:00:01Z",
            )
        )
        w.write_record(
            _response(
                w,
                f"http://{HOST}/listing/2",
                LISTING_2,
                _http("200 OK", ("Content-Type", "text/html")),
                "2014-01-01T00:00:02Z",
            )
        )
    data = _without_digests(path.read_bytes())
    at = data.index(LISTING) - 4  # the second page's block, 10 bytes longer than it says
    length = data.rindex(b"Content-Length: ", 0, at)
    end = data.index(b"\r\n", length)
    declared = int(data[length + 16 : end])
    path.write_bytes(data[: length + 16] + b"%d" % (declared - 10) + data[end:])
    capsys.readouterr()
    items = list(read_warc(path))
    assert capsys.readouterr().err == ""
    assert [type(i).__name__ for i in items] == ["BadRecord", "BadRecord", "ForeignRecord"]
    assert items[0].why.startswith("the payload does not decode: Error -3")
    assert items[1].why == "the block does not end where its Content-Length says"
    assert items[2].body == LISTING_2
