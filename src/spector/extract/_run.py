"""`spector extract`: captures not yet extracted with the current template version become
records. A capture's records are written in one transaction, then the capture is marked
extracted: a crash between the two only means the capture is extracted again, which
changes nothing (ids are deterministic). Pages that fail go to ``extraction_errors``.

Pages no template covers are counted, never hidden: those of a market no template claims
(``ExtractReport.unclaimed``), and those its template has no page kind for. Of the latter,
an imported page (``spector import pages``: a person chose it) is reported by URL path
(``ExtractReport.uncovered``, and a row of ``extraction_errors`` at stage ``uncovered``);
a crawled one is only counted, as a crawl fetches home pages, member lists and search
pages that no template is meant to read."""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from spector.collect import decode, read_stored
from spector.extract._pages import PageError, records_of
from spector.extract._rates import Rates
from spector.extract._template_load import TemplateSet, load_templates
from spector.extract._templates import Template, template_for
from spector.model import Capture, Market, Record, make_id
from spector.store import Workspace

__all__ = ["ExtractReport", "Uncovered", "extract_captures"]

_NO_KIND = "no page kind of the template matches"
EXAMPLES = 3  # URL paths of uncovered imported pages kept per template, for the summary


@dataclass
class Uncovered:
    """Imported pages one template has no page kind for: how many, and a few URL paths."""

    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class ExtractReport:
    """What one run did. ``captures`` counts the captures not yet extracted with their
    template's current version (or without any template), ``skipped`` those of them no
    template covers (``unclaimed`` + pages their template has no page kind for)."""

    captures: int = 0
    extracted: int = 0
    records: int = 0
    skipped: int = 0  # pages no template covers (home pages, members, ...; unclaimed ones)
    errors: int = 0
    claimed: int = 0  # captures of markets without a family that a template claimed
    unclaimed: dict[str, int] = field(default_factory=dict)  # by market: no template claims it
    uncovered: dict[str, Uncovered] = field(default_factory=dict)  # imported, by template name
    skipped_templates: list[str] = field(default_factory=list)  # templates that did not load
    overrides: list[str] = field(default_factory=list)  # local templates over built-in ones


def _not_covered(ws: Workspace, report: ExtractReport, job: _Job) -> None:
    """Count a page ``job.template`` has no page kind for; an imported one is reported
    (its URL path in ``report.uncovered`` and a row of ``extraction_errors``)."""
    report.skipped += 1
    if not job.imported:
        return
    path = _path(job.url)
    found = report.uncovered.setdefault(job.template.name, Uncovered())
    found.count += 1
    if len(found.examples) < EXAMPLES:
        found.examples.append(path)
    bare, _, query = path.partition("?")
    reason = (
        f"no page kind of {job.template.name} ({job.template.source}) covers this "
        f"imported page: no page kind's url regex matches its path {bare}"
        + (" (the query is not matched; a page kind's query reads it)" if query else "")
        + (", and no page kind's detect selector matches the page" if job.template.detects else "")
    )
    _error(ws, job.capture_id, job.url, reason, stage="uncovered")


@dataclass(frozen=True)
class _Job:
    path: Path
    url: str
    site: str
    fetched_at: datetime
    offset: int
    content_type: str | None
    capture_id: str
    template: Template
    market_id: str
    day_only: bool = False  # the capture time is a date (a saved page's --observed-at)
    imported: bool = False  # by `spector import pages` (not crawled)


def _parse(job: _Job) -> tuple[str, list[Record] | None, str | None]:
    """Read one capture and apply its template (runs in worker processes)."""
    try:
        page = read_stored(job.path, job.offset)
        reference = _reference(page.date, job.fetched_at)
        until = reference + timedelta(days=1) if job.day_only and not page.date else None
        result = job.template.apply(
            _path(job.url), job.template.decode(page.body, job.content_type)
        )
        if result is None:
            return job.capture_id, None, _NO_KIND
        records = records_of(
            result, job.template, job.market_id, job.site, reference, until, url=job.url
        )
    except (PageError, OSError, ValueError, StopIteration) as exc:
        return job.capture_id, None, str(exc) or type(exc).__name__
    return job.capture_id, records, None


def _path(url: str) -> str:
    """A URL's path with its query, as templates match them."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def extract_captures(
    ws: Workspace,
    *,
    processes: int = 1,
    min_parallel: int = 100,
    template_dirs: Sequence[Path] = (),
) -> ExtractReport:
    """Extract what is new; with ``processes`` > 1 pages are parsed in that many processes
    (the store is written by this one) once there are ``min_parallel`` pages or more.

    Templates are the built-in ones, the workspace's ``templates/`` and ``template_dirs``
    (later ones override a family's earlier template; one that does not load is named in
    ``skipped_templates`` and the others are used). A capture of a market without a
    family is extracted with the template that claims it (its host, or its page:
    ``claim_template``), and the market keeps that family. Idempotent: a second run finds
    nothing new (pages no template covers are counted again, and written nowhere but in
    their ``uncovered`` rows)."""
    report = ExtractReport()
    loaded = load_templates(ws.root, template_dirs)
    report.skipped_templates = [e.one_line() for e in loaded.skipped]
    report.overrides = sorted(loaded.overrides.values())
    by_host, by_name = _markets(ws)
    rows = ws.store.con.execute(
        "SELECT url, host, site, fetched_at, sha256, warc_file, warc_offset, content_type, "
        "time_basis, source_file FROM captures WHERE record_type = 'response' AND status = 200 "
        "AND warc_file IS NOT NULL ORDER BY fetched_at, url"
    ).fetchall()
    done = {
        (c, t)
        for c, t in ws.store.con.execute(
            "SELECT capture_id, template || '@' || version FROM extracted_captures"
        ).fetchall()
    }
    claims = _claims(ws, loaded, rows, by_host, by_name)
    _keep_claims(ws, claims, by_host, by_name)
    jobs = []
    for row in rows:
        url, host, site, fetched_at, sha256, warc_file, offset, content_type, basis, source = row
        market = by_host.get(host) or by_name.get(site)
        if market is not None and market.family:
            template = loaded.local.get(market.family) or template_for(market.family)
        else:
            template = claims.get(market.id if market else site)
            report.claimed += template is not None
        capture_id = Capture(url=url, host=host, fetched_at=fetched_at, sha256=sha256).id
        if template is not None and (capture_id, template.name) in done:
            continue
        report.captures += 1
        if template is None:
            label = market.name if market else site or host
            report.unclaimed[label] = report.unclaimed.get(label, 0) + 1
            report.skipped += 1
            continue
        job = _Job(
            ws.root / warc_file,
            url,
            site,
            fetched_at,
            offset,
            content_type,
            capture_id,
            template,
            market.id if market else Market(name=site).id,
            day_only=basis == "observed-at" and _midnight(fetched_at),
            imported=source is not None,
        )
        if template.match(_path(url)) is None and not template.detects:
            _not_covered(ws, report, job)
            continue
        jobs.append(job)
    by_id = {job.capture_id: job for job in jobs}
    if processes > 1 and len(jobs) >= min_parallel:
        context = multiprocessing.get_context("spawn")  # no fork of the store's connection
        with ProcessPoolExecutor(processes, mp_context=context) as pool:
            results = list(pool.map(_parse, jobs, chunksize=max(1, len(jobs) // (processes * 8))))
    else:
        results = [_parse(job) for job in jobs]
    rates = Rates(ws.store)
    for capture_id, records, error in results:
        job = by_id[capture_id]
        if records is None and error == _NO_KIND and job.template.detects:
            _not_covered(ws, report, job)  # neither its URL nor its content is a page kind's
            continue
        if records is None:
            _error(ws, capture_id, job.url, error or "unknown")
            report.errors += 1
            continue
        records = rates.price(records, job.fetched_at)
        ws.store.upsert(records, source=f"capture:{capture_id}", seen_at=job.fetched_at)
        ws.store.con.execute(
            "INSERT OR REPLACE INTO extracted_captures VALUES (?, ?, ?, ?, ?)",
            [
                capture_id,
                job.template.family,
                job.template.version,
                len(records),
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
        # what an earlier run could not read (the template has changed since) is read now
        ws.store.con.execute(
            "DELETE FROM extraction_errors WHERE source = ?", [f"capture:{capture_id}"]
        )
        report.extracted += 1
        report.records += len(records)
    return report


def _midnight(moment: datetime) -> bool:
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class _StoredMarket:
    """A market row as stored (what a claim keeps of it, unchanged, beside its family)."""

    id: str
    name: str
    ref: str | None
    family: str | None
    onions: tuple[str, ...]
    status: str
    last_seen: datetime


_CLAIM_READS = 50  # pages of a market without a family read to find a template claiming it


def _claims(
    ws: Workspace,
    loaded: TemplateSet,
    rows: list[tuple[object, ...]],
    by_host: dict[str, _StoredMarket],
    by_name: dict[str, _StoredMarket],
) -> dict[str, Template]:
    """The template claiming each market without a family (by market id, or site name):
    the one listing one of its hosts, else the one whose ``detect`` matches one of its
    first pages. Such markets are imported ones: their pages are read here, a few each."""
    pending: dict[str, list[tuple[object, ...]]] = {}
    for row in rows:
        host, site = str(row[1]), str(row[2])
        market = by_host.get(host) or by_name.get(site)
        if market is None or not market.family:
            pending.setdefault(market.id if market else site, []).append(row)
    candidates = loaded.all()
    detecting = any(t.detect_title or t.detect_css for t in candidates)
    claims: dict[str, Template] = {}
    for key, market_rows in pending.items():
        hosts = dict.fromkeys(str(r[1]) for r in market_rows)
        claimed = next((t for h in hosts if (t := loaded.claim(h, None))), None)
        for row in market_rows[:_CLAIM_READS] if claimed is None and detecting else ():
            try:
                body = read_stored(ws.root / str(row[5]), int(str(row[6]))).body
            except (OSError, ValueError, StopIteration):
                continue  # extraction reports the unreadable capture if a template claims it
            content_type = str(row[7]) if row[7] is not None else None
            claimed = loaded.claim(None, decode(body, content_type))
            if claimed is not None:
                break
        if claimed is not None:
            claims[key] = claimed
    return claims


def _keep_claims(
    ws: Workspace,
    claims: dict[str, Template],
    by_host: dict[str, _StoredMarket],
    by_name: dict[str, _StoredMarket],
) -> None:
    """Store the family of each stored market a template claimed: the market's row as it
    is (its name, ref, onions, status: its identity and what else it says stay), with the
    family beside them, seen when it was last seen (so nothing else moves)."""
    stored = {m.id: m for m in (*by_host.values(), *by_name.values())}
    for key, template in claims.items():
        market = stored.get(key)
        if market is None:
            continue  # pages of a site no market row names: nothing to keep the family on
        claimed = Market(
            name=market.name,
            family=template.family,
            onions=market.onions,
            status=market.status,
            ref=market.ref,
        )
        ws.store.upsert([claimed], source=f"claim:{template.name}", seen_at=market.last_seen)


def _markets(ws: Workspace) -> tuple[dict[str, _StoredMarket], dict[str, _StoredMarket]]:
    """Stored markets by onion host, and by name for markets that only one stored market
    bears (a capture's site name is the fallback for hosts not listed)."""
    by_host: dict[str, _StoredMarket] = {}
    names: dict[str, list[_StoredMarket]] = {}
    for mid, name, ref, family, onions, status, last_seen in ws.store.con.execute(
        "SELECT id, name, ref, family, onions, status, last_seen FROM markets "
        "ORDER BY first_seen, id"
    ).fetchall():
        market = _StoredMarket(
            mid, name, ref, family, tuple(onions or ()), status or "unknown", last_seen
        )
        for onion in market.onions:
            by_host.setdefault(onion, market)
        names.setdefault(name, []).append(market)
    by_name = {n: found[0] for n, found in names.items() if len(found) == 1}
    return by_host, by_name


def _reference(date_header: str | None, fetched_at: datetime) -> datetime:
    """The site's clock for relative dates: its Date header, else our fetch time."""
    if date_header:
        try:
            return parsedate_to_datetime(date_header).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return fetched_at.replace(tzinfo=UTC)


def _error(ws: Workspace, capture_id: str, url: str, reason: str, stage: str = "template") -> None:
    """One row per capture (its latest fault); first_seen stays when it is seen again."""
    now = datetime.now(UTC).replace(tzinfo=None)
    ws.store.con.execute(
        "INSERT INTO extraction_errors VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
        "SET stage = excluded.stage, reason = excluded.reason, last_seen = excluded.last_seen",
        [
            make_id("extraction_error", capture_id),
            f"capture:{capture_id}",
            url,
            stage,
            reason[:500],
            now,
            now,
        ],
    )
