"""`spector template list` and `spector template test TEMPLATE PAGE`: the edit-test loop of
someone writing a template (as Scrapy's `parse` command shows what a callback scraped).

``test`` applies a template to a saved page and shows every field (its value, the
selector that gave it, the node and attribute read, the text before regex and stars),
every item, the records the page gives, and every error. Exit status 0 when the page
gave its records without an error; otherwise, as when the template or the page cannot be
read at all, 2 with one ``error:`` line (after the report, which lists every error).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from spector.cli.common import WorkspaceOpt, console
from spector.errors import ConfigError, InputError, NotAWorkspace, PageError, UsageError

if TYPE_CHECKING:  # imported where used: the `spector` command starts without pydantic
    from spector.extract._template_load import TemplateSet
    from spector.extract._templates import FieldTrace, Template
    from spector.model import Record

__all__ = ["template_app", "try_template"]

template_app = typer.Typer(
    help="Page templates: list them, test one on a saved page.", no_args_is_help=True
)
TemplatesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--templates", help="A folder of template files (*.toml), loaded after the workspace's."
    ),
]
_SAVED_FROM = re.compile(r"<!--\s*saved from url=\(\d+\)(\S+?)\s*-->", re.IGNORECASE)
_CANONICAL = re.compile(
    r"<link[^>]+rel=[\"']?canonical[\"']?[^>]+href=[\"']([^\"']+)", re.IGNORECASE
)


def _loaded(workspace: Path | None, dirs: list[Path] | None) -> TemplateSet:
    from spector.extract._template_load import load_templates
    from spector.store import find_workspace

    try:
        root: Path | None = find_workspace(workspace)
    except NotAWorkspace:
        if workspace is not None:
            raise
        root = None  # outside a workspace: the built-in templates and --templates
    return load_templates(root, dirs or ())


def _template(name: str, loaded: TemplateSet) -> Template:
    from spector.extract._template_load import load_template

    path = Path(name)
    if name.endswith(".toml") or path.is_file():
        return load_template(path)
    found = loaded.get(name)
    if found is None:
        names = sorted(t.family for t in loaded.all())
        close = difflib.get_close_matches(name, names, n=1)
        raise UsageError(
            f"no template named {name!r}",
            expected=f"one of {', '.join(names)} or a .toml file",
            hint=f"did you mean {close[0]!r}?" if close else None,
        )
    return found


def page_path(html: str, file: Path, url: str | None) -> tuple[str, str | None, str]:
    """(URL path with query, the absolute URL when known, how it was known) of a saved
    page: ``--url``, else the URL the browser noted when saving ("saved from url="), else
    its canonical link, else the file's name."""
    for found, how in (
        (url, "--url"),
        (m[1] if (m := _SAVED_FROM.search(html[:4096])) else None, "saved from url"),
        (m[1] if (m := _CANONICAL.search(html[:65536])) else None, "canonical link"),
    ):
        if found:
            parts = urlsplit(found if "//" in found or found.startswith("/") else "/" + found)
            path = parts.path or "/"
            absolute = found if parts.scheme and parts.netloc else None
            return (f"{path}?{parts.query}" if parts.query else path), absolute, how
    return f"/{file.name}", None, "file name"


def try_template(
    template: Template,
    html: str,
    path: str,
    reference: datetime,
    seen_until: datetime,
    url: str | None = None,
) -> dict[str, Any]:
    """What ``template`` makes of a page at ``path`` (of ``url``, when its absolute URL is
    known): the page kind and how it was recognised, every field with its provenance, the
    items, the records, the errors (as JSON-able data)."""
    from spector.extract._pages import records_of

    out: dict[str, Any] = {
        "template": {"name": template.family, "version": template.version},
        "source": template.source,
        "path": path,
        "kind": None,
        "matched_by": None,
        "reference": [reference.isoformat(), seen_until.isoformat()],
        "fields": [],
        "items": {},
        "records": [],
        "errors": [],
    }
    result = template.apply(path, html, trace=True)
    if result is None:
        out["errors"].append(
            f"no page kind of {template.name} matches: its URL regexes do not match {path!r}"
            + (" and no detect selector matches the page" if template.detects else "")
            + " (give the page's URL with --url)"
        )
        return out
    out["kind"] = result.kind
    out["matched_by"] = "url" if template.match(path) is not None else "detect"
    out["fields"] = [dataclasses.asdict(t) for t in result.trace]
    out["items"] = dict(result.items.items())
    out["errors"] += list(result.errors)
    out["errors"] += [
        f"{t.scope}.{t.name}: {t.note}" for t in result.trace if t.note and t.note != "not found"
    ]
    try:
        records = records_of(
            result, template, "market", template.family, reference, seen_until, url=url
        )
    except PageError as exc:
        if exc.one_line() not in out["errors"]:
            out["errors"].append(exc.one_line())
        return out
    out["records"] = [_record(r) for r in records]
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _record(record: Record) -> dict[str, Any]:
    fields = {k: _plain(v) for k, v in dataclasses.asdict(record).items()}
    return {"type": type(record).__name__, "id": record.id, **fields}


@template_app.command("test")
def template_test(
    template: Annotated[str, typer.Argument(help="A template's name or a .toml file.")],
    page: Annotated[Path, typer.Argument(help="A saved HTML page.")],
    url: Annotated[
        str | None,
        typer.Option(help="The page's URL (or path), when the file name is not its URL."),
    ] = None,
    observed_at: Annotated[
        str | None,
        typer.Option(help="When the page was saved (ISO date or time; default: file time)."),
    ] = None,
    templates_dir: TemplatesOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Apply TEMPLATE to PAGE: every field, where it came from, the records, every error."""
    chosen = _template(template, _loaded(workspace, templates_dir))
    try:
        raw = page.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=page) from exc
    html = chosen.decode(raw, None)
    path, absolute, how = page_path(html, page, url)
    reference, until, basis = _observed(observed_at, page)
    report = try_template(chosen, html, path, reference, until, absolute)
    report["page"] = {"file": str(page), "url_from": how, "time_from": basis}
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        _show(report)
    if report["errors"]:
        count = len(report["errors"])
        raise PageError(
            f"{count} error{'s' if count > 1 else ''} applying {chosen.name}: "
            f"{report['errors'][0]}",
            where=page,
        )


def _observed(text: str | None, page: Path) -> tuple[datetime, datetime, str]:
    """(seen from, seen until, what that is): --observed-at (a date is a whole day), else
    the file's modification time."""
    if text is None:
        moment = datetime.fromtimestamp(page.stat().st_mtime, UTC)
        return moment, moment, "file time"
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--observed-at {text!r} is not a date", expected="an ISO date or time"
        ) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if len(text.strip()) <= len("2019-09-11"):
        return moment, moment + timedelta(days=1), "--observed-at (a day)"
    return moment, moment, "--observed-at"


def _rule(title: str) -> str:
    return f"# {title} " + "-" * max(4, 78 - len(title))


def _show(report: dict[str, Any]) -> None:
    def line(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    info = report["page"]
    name = f"{report['template']['name']}@{report['template']['version']}"
    line(f"template {name} ({report['source']})")
    line(f"page     {info['file']} as {report['path']} (URL from the {info['url_from']})")
    kind = report["kind"]
    by = "URL" if report["matched_by"] == "url" else "detect selector"
    line(f"kind     {kind} (recognised by its {by})" if kind else "kind     none")
    line(f"time     {' to '.join(report['reference'])} ({info['time_from']})")
    from spector.extract._templates import FieldTrace

    traces = [FieldTrace(**t) for t in report["fields"]]
    page_fields = [t for t in traces if t.scope == "page"]
    line(_rule(f"Fields ({len(page_fields)})"))
    for t in page_fields:
        line(_field_line(t))
    scopes = dict.fromkeys(t.scope for t in traces if t.scope != "page")
    for name, rows in report["items"].items():
        line(_rule(f"Items: {name} ({len(rows)})"))
        for scope in (s for s in scopes if s.startswith(f"{name}[")):
            for t in (t for t in traces if t.scope == scope):
                line(_field_line(t))
    line(_rule(f"Records ({len(report['records'])})"))
    for record in report["records"]:
        shown = {
            k: v for k, v in record.items() if v not in (None, [], "") and k not in ("type", "id")
        }
        line(f"{record['type']} {record['id']}")
        line("    " + json.dumps(shown, ensure_ascii=False, sort_keys=True))
    line(_rule(f"Errors ({len(report['errors'])})"))
    for error in report["errors"]:
        line(f"error: {error}")


def _field_line(t: FieldTrace) -> str:
    label = f"{t.scope}.{t.name}" if t.scope != "page" else t.name
    if t.value is None:
        return f"  {label:<22} -           ({t.note or 'not found'})"
    where = f"{t.selector or '(from the URL)'}"
    if t.parts:  # a concatenation: every selector, and what each read
        where = " + ".join(t.parts)
    elif t.node:
        where += f"  {t.node} {('@' + t.attribute) if t.attribute else 'text'}"
    raw = f"  raw {t.raw!r}" if t.raw is not None and t.raw != t.value else ""
    return f"  {label:<22} {t.value!r}  <- {where}{raw}"


@template_app.command("list")
def list_cmd(
    templates_dir: TemplatesOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Every template in effect: name, version, where from, page kinds; and any that did not load (exit 2 when one did not)."""  # noqa: E501 - Typer shows line breaks as they are
    loaded = _loaded(workspace, templates_dir)
    for template in sorted(loaded.all(), key=lambda t: t.family):
        row = {
            "name": template.family,
            "version": template.version,
            "source": template.source,
            "kinds": list(template.kinds),
            "hosts": list(template.hosts),
            "overrides": loaded.overrides.get(template.family),
        }
        if as_json:
            print(json.dumps(row, ensure_ascii=False))
            continue
        note = "  (overrides the built-in)" if row["overrides"] else ""
        console.print(
            f"{template.family:<14} {template.version:>3}  {', '.join(template.kinds):<44} "
            f"{template.source}{note}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for error in loaded.skipped:
        if as_json:
            print(json.dumps({"skipped": error.one_line()}, ensure_ascii=False))
        else:
            console.print(
                f"skipped: {error.one_line()}", markup=False, highlight=False, soft_wrap=True
            )
    if loaded.skipped:
        first = loaded.skipped[0]
        more = f" and {len(loaded.skipped) - 1} more" if len(loaded.skipped) > 1 else ""
        raise ConfigError(f"a template did not load{more}: {first.one_line()}")
    if not as_json:
        console.print(f"{len(loaded.all())} templates", markup=False, highlight=False)
