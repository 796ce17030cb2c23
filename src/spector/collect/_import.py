"""`spector import pages`: saved pages, mirrors and other crawlers' WARCs become captures.

Each page becomes a capture with provenance (the source file and its SHA-256, the URL,
the capture time and what that time is: the WARC date, ``--observed-at``, or the file's
modification time, in that order) and a response record in the workspace's WARC archive
that ``spector extract`` reads as it reads crawled pages. The market is the one the
pages' onion hosts already belong to, else the one named with ``--market`` (all hosts of
one import are one market: its mirrors), else one per host.

Idempotent: a page already imported (same URL, time and payload; or, timed by a file's
mtime, the same URL, payload and source file) is counted and left alone. Bad input is a
``UserError`` naming the file; what earlier files stored stays, and the file that failed
leaves nothing behind. With ``skip_bad`` bad files are counted and skipped instead. A
bad record inside a WARC is always skipped and counted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from spector.collect._import_archive import ImportArchive, Page, Written
from spector.collect._import_files import Source, find_sources
from spector.collect._import_layout import page_urls
from spector.collect._import_markets import ImportedMarket, MarketBook
from spector.collect._import_urls import host_kind
from spector.collect._import_warc import BadRecord, ForeignRecord, Skipped, WarcTruncated, read_warc
from spector.collect._sniff import MAX_PAGE_BYTES, embedded
from spector.errors import InputError, UsageError, UserError
from spector.model import Capture
from spector.store import Workspace

__all__ = ["ImportOptions", "ImportReport", "import_pages", "parse_observed_at"]

_BATCH = 1000  # saved pages stored per transaction
_CHARSET = re.compile(rb"charset\s*=\s*['\"]?[\w.:-]+", re.IGNORECASE)
_TEMPLATE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class ImportOptions:
    market: str | None = None  # the market's name, as the investigator knows it
    url_prefix: str | None = None  # the URL of each PATH given
    observed_at: datetime | None = None  # when the pages were seen (naive UTC)
    template: str | None = None  # the template family the market's pages follow
    skip_bad: bool = False  # bad files are counted and skipped, not an error


@dataclass
class ImportReport:
    imported: int = 0  # captures stored (pages and revisits)
    revisits: int = 0
    files: int = 0  # files read
    already: int = 0  # already imported (before, or twice in this import)
    skipped: Counter[str] = field(default_factory=Counter)  # no page in them, by why
    bad: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    time_basis: Counter[str] = field(default_factory=Counter)
    markets: list[ImportedMarket] = field(default_factory=list)

    @property
    def bad_count(self) -> int:
        return len(self.bad)

    def as_dict(self) -> dict[str, object]:
        return {
            "imported": self.imported,
            "revisits": self.revisits,
            "files": self.files,
            "already_imported": self.already,
            "skipped": dict(sorted(self.skipped.items())),
            "bad": len(self.bad),
            "bad_details": [{"where": w, "why": y} for w, y in self.bad[:100]],
            "time_basis": dict(sorted(self.time_basis.items())),
            "markets": [m.as_dict() for m in self.markets],
        }


Progress = Callable[[int, int, int], None]  # files done, files in all, pages imported


def parse_observed_at(text: str, *, now: datetime | None = None) -> datetime:
    """``--observed-at``: an ISO 8601 date or time (UTC unless it says otherwise), not in
    the future; returned as naive UTC. Raises UsageError naming the value."""
    expected = "an ISO 8601 date or time such as 2019-09-11 or 2019-09-11T14:30:00Z"
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--observed-at {text!r} is not a date", expected=expected) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    current = (now or datetime.now(UTC)).replace(tzinfo=None)
    if moment > current + timedelta(days=1):
        raise UsageError(f"--observed-at {text!r} is in the future", expected=expected)
    return moment


def import_pages(
    ws: Workspace,
    paths: list[Path],
    options: ImportOptions | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the pages under ``paths`` into ``ws`` (see the module doc)."""
    options = options or ImportOptions()
    _check(options)
    scan = find_sources(paths, skip_bad=options.skip_bad)
    plan = page_urls(scan.sources, options.url_prefix)
    report = ImportReport(skipped=scan.skipped, bad=list(scan.bad))
    if plan.bad and not options.skip_bad:
        where, why = plan.bad[0]
        more = f" ({len(plan.bad) - 1} more like it)" if len(plan.bad) > 1 else ""
        raise InputError(why + more, where=where)
    report.bad += plan.bad
    archive = ImportArchive(ws.warc_dir)
    archive.repair(ws.store)
    run = _Run(ws, archive, options, report, MarketBook(ws.store, options.market, options.template))
    sources = [s for s in scan.sources if s.kind == "warc" or s.path in plan.urls]
    done = 0
    if progress is not None:
        run.tick = lambda: progress(done, len(sources), report.imported)
    for n, source in enumerate(sources, 1):
        try:
            if source.kind == "warc":
                run.flush()
                run.warc(source)
                run.flush()
            else:
                run.file(source, plan.urls[source.path])
                last = n == len(sources) or sources[n].argument != source.argument
                if run.pending >= _BATCH or last:
                    run.flush()
        except UserError as exc:
            if source.kind == "warc":
                run.discard()  # nothing of a WARC that failed stays
            else:
                run.flush()  # a saved page fails before it is written: the others are whole
            if not options.skip_bad:
                if report.imported:
                    stored = (
                        f"what was imported before it stays stored ({report.imported:,}); run "
                        "the import again once it is fixed (that is skipped)"
                    )
                    exc.hint = f"{exc.hint}; {stored}" if exc.hint else stored
                raise
            report.bad.append((exc.where or str(source.path), exc.what))
        report.files += 1
        done = n
        if progress is not None:
            progress(n, len(sources), report.imported)
    run.flush()
    report.markets = run.book.summary()
    return report


def _check(options: ImportOptions) -> None:
    if options.market is not None and not options.market.strip():
        raise UsageError("--market is empty", expected="the market's name")
    if options.template is not None and not _TEMPLATE_NAME.fullmatch(options.template):
        raise UsageError(
            f"--template {options.template!r} is not a template name",
            expected="a name such as drugmarket (see `spector template list`)",
        )
    if options.url_prefix is not None:
        parts = urlsplit(options.url_prefix)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"--url-prefix {options.url_prefix!r} is not an http(s) URL",
                expected="a URL such as http://4yjes6zfucnh7vcj.onion/",
            )
        try:
            host_kind(parts.hostname)
        except ValueError as exc:
            raise UsageError(f"--url-prefix {options.url_prefix!r}: {exc}") from None


class _Run:
    """One import: pages written to the archive, captures waiting for the store."""

    def __init__(
        self,
        ws: Workspace,
        archive: ImportArchive,
        options: ImportOptions,
        report: ImportReport,
        book: MarketBook,
    ) -> None:
        self.ws, self.archive, self.options, self.report, self.book = (
            ws,
            archive,
            options,
            report,
            book,
        )
        self.mark = archive.mark()
        self.captures: list[Capture] = []
        self.source: str | None = None
        self.counts: tuple[int, int, Counter[str]] = (0, 0, Counter())  # at the last flush
        self.seen = _known_captures(ws)
        self.digests: dict[str, str | None] = {}  # the other crawler's record id / digest
        self.by_time: dict[tuple[str, datetime], str | None] = {}
        self.tick: Callable[[], None] | None = None  # called now and then inside a WARC

    @property
    def pending(self) -> int:
        return len(self.captures)

    # -- saved files ------------------------------------------------------------------
    def file(self, source: Source, url: str) -> None:
        raw = _read_bounded(source.path)
        body = _gunzip_page(raw, source.path) if source.kind == "page.gz" else raw
        if len(body) > MAX_PAGE_BYTES:
            raise InputError(
                f"larger than {MAX_PAGE_BYTES >> 20} MiB", where=source.path, expected="a page"
            )
        if self.options.observed_at is not None:
            moment, basis = self.options.observed_at, "observed-at"
        else:
            stamp = source.path.stat().st_mtime_ns
            moment = _EPOCH + timedelta(microseconds=stamp // 1000)
            basis = "file-mtime"
        self._page(
            source.argument,
            Page(
                url=url,
                fetched_at=moment,
                time_basis=basis,
                body=body,
                status=200,
                status_line="200 OK",
                headers=(),
                content_type=_file_content_type(body),
                source_file=source.path,
                source_sha256=hashlib.sha256(raw).hexdigest(),
                synthesised=True,
            ),
        )

    # -- WARC files -------------------------------------------------------------------
    def warc(self, source: Source) -> None:
        sha = _file_sha256(source.path)
        try:
            for count, item in enumerate(read_warc(source.path), 1):
                self._warc_item(source, sha, item)
                if self.tick is not None and count % 500 == 0:
                    self.tick()
        except WarcTruncated as exc:
            if not self.options.skip_bad:
                raise
            self.report.bad.append((exc.where or str(source.path), exc.what))

    def _warc_item(
        self, source: Source, sha: str, item: ForeignRecord | Skipped | BadRecord
    ) -> None:
        where = f"{source.path}@{item.offset}"
        if isinstance(item, BadRecord):
            self.report.bad.append((where, item.why))
            return
        if isinstance(item, Skipped):
            self.report.skipped[item.what] += 1
            if item.payload_digest:
                self.digests[item.payload_digest] = None
            return
        try:
            host_kind(urlsplit(item.url).hostname or "")
        except ValueError as exc:
            self.report.bad.append((where, f"{item.url}: {exc}"))
            return
        page = Page(
            url=item.url,
            fetched_at=item.date,
            time_basis="warc-date",
            body=item.body,
            status=item.status,
            status_line=item.status_line,
            headers=item.headers,
            content_type=item.content_type,
            source_file=source.path,
            source_sha256=sha,
            source_offset=item.offset,
            source_record_id=item.record_id,
            truncated=item.truncated,
            synthesised=item.record_type == "resource",  # a resource record has no HTTP
        )
        if item.record_type == "revisit":
            of = self._original(item)
            if of is _NOT_A_PAGE:
                self.report.skipped["revisits of no page"] += 1
                return
            page = dataclasses.replace(
                page,
                record_type="revisit",
                refers_to_uri=item.refers_to_uri,
                refers_to_date=item.refers_to_date,
                sha256=of if isinstance(of, str) else None,
            )
        sha256 = self._page(source.argument, page)
        if page.record_type == "revisit" and sha256 is None:
            return  # it tells nothing of the payload a later revisit could use
        for key in (item.record_id, item.payload_digest):
            if key:
                self.digests[key] = sha256
        self.by_time[(item.url, item.date)] = sha256

    def _original(self, item: ForeignRecord) -> str | object | None:
        """The SHA-256 of the payload a revisit repeats: None when it is not known,
        ``_NOT_A_PAGE`` when it was something other than a page."""
        for key in (item.refers_to, item.payload_digest):
            if key and key in self.digests:
                return self.digests[key] if self.digests[key] is not None else _NOT_A_PAGE
        if item.refers_to_uri and item.refers_to_date is not None:
            key2 = (item.refers_to_uri, item.refers_to_date)
            if key2 in self.by_time:
                return self.by_time[key2]
            row = self.ws.store.con.execute(
                "SELECT sha256 FROM captures WHERE url = ? AND fetched_at = ? "
                "AND record_type = 'response' LIMIT 1",
                [item.refers_to_uri, item.refers_to_date],
            ).fetchone()
            if row:
                return str(row[0]) if row[0] is not None else None
        return None

    # -- both -------------------------------------------------------------------------
    def _page(self, argument: Path, page: Page) -> str | None:
        """Write ``page`` unless it is stored already; the payload's SHA-256."""
        if self.source != f"import:{argument}":
            self.flush()
            self.source = f"import:{argument}"
        if page.record_type == "response":
            sha = hashlib.sha256(page.body).hexdigest()
            if embedded(page.body):
                self.report.skipped["pages with media inside (never stored)"] += 1
                return None
        else:
            sha = page.sha256 or ""
        key = Capture(url=page.url, host="", fetched_at=page.fetched_at, sha256=sha).id
        loose = (page.url, sha, page.source_sha256) if page.time_basis == "file-mtime" else None
        if key in self.seen or (loose is not None and loose in self.seen):
            self.report.already += 1
            return sha
        host = (urlsplit(page.url).hostname or "").lower()
        market = self.book.market_for(host, page.fetched_at)
        written: Written = self.archive.write_page(page)
        self.seen.add(key)
        if loose is not None:
            self.seen.add(loose)
        self.captures.append(_capture(page, host, market, written))
        self.report.time_basis[page.time_basis] += 1
        self.report.imported += 1
        self.report.revisits += page.record_type == "revisit"
        return written.sha256

    def flush(self) -> None:
        """Store the captures written since the last flush (one transaction)."""
        if self.captures and self.source is not None:
            try:
                self.book.store(self.captures, source=self.source)
            except BaseException:
                self.discard()
                raise
        self.captures = []
        self.mark = self.archive.mark()
        self.counts = (self.report.imported, self.report.revisits, Counter(self.report.time_basis))
        self.book.commit()

    def discard(self) -> None:
        """Forget what was written since the last flush, in the archive too."""
        self.archive.rollback(self.mark)
        for capture in self.captures:
            self.seen.discard(capture.id)
            self.seen.discard((capture.url, capture.sha256, capture.source_sha256))
        self.report.imported, self.report.revisits, basis = self.counts
        self.report.time_basis = Counter(basis)
        self.captures = []
        self.book.forget()


_NOT_A_PAGE = object()
_EPOCH = datetime(1970, 1, 1)


def _capture(page: Page, host: str, market: str, written: Written) -> Capture:
    reason = None
    if page.truncated:
        reason = f"cut short by the crawler that wrote it (WARC-Truncated: {page.truncated})"
    elif page.record_type == "revisit" and written.sha256 is None:
        reason = "a revisit of a capture that is not in this import or the store"
    return Capture(
        url=page.url,
        host=host,
        site=market,
        fetched_at=page.fetched_at,
        status=page.status,
        content_type=page.content_type,
        sha256=written.sha256,
        warc_file=written.warc_file,
        warc_offset=written.offset,
        record_type=page.record_type,
        reason=reason,
        truncated=bool(page.truncated),
        source_file=str(page.source_file),
        source_sha256=page.source_sha256,
        time_basis=page.time_basis,
    )


def _known_captures(ws: Workspace) -> set[object]:
    """Ids of imported captures, and (url, sha256, source) of those timed by mtime."""
    known: set[object] = set()
    for cid, url, sha, source_sha, basis in ws.store.con.execute(
        "SELECT id, url, sha256, source_sha256, time_basis FROM captures "
        "WHERE source_file IS NOT NULL"
    ).fetchall():
        known.add(cid)
        if basis == "file-mtime":
            known.add((url, sha, source_sha))
    return known


def _read_bounded(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_PAGE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", where=path) from exc
    if len(raw) > MAX_PAGE_BYTES:
        raise InputError(f"larger than {MAX_PAGE_BYTES >> 20} MiB", where=path, expected="a page")
    return raw


def _gunzip_page(raw: bytes, path: Path) -> bytes:
    """A gzip'd saved page (wget keeps ``Content-Encoding: gzip`` answers as they came),
    inflated no further than one byte past the largest page."""
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = decomp.decompress(raw, MAX_PAGE_BYTES + 1)
    except zlib.error as exc:
        raise InputError(f"gzip'd page does not decompress: {exc}", where=path) from exc
    if len(body) <= MAX_PAGE_BYTES and not decomp.eof:
        raise InputError("gzip'd page is cut short", where=path, expected="a whole gzip stream")
    return body


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", where=path) from exc
    return digest.hexdigest()


def _file_content_type(body: bytes) -> str:
    """``text/html`` with the charset a saved page without a declared one is in: UTF-8
    when it decodes as such, else what charset-normalizer finds."""
    if _CHARSET.search(body[:4096]):
        return "text/html"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(body[: 1 << 18]).best()
        return f"text/html; charset={best.encoding if best else 'windows-1252'}"
    return "text/html; charset=utf-8"
