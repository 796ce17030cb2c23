"""Templates a workspace uses: the built-in ones, plugins', the workspace's ``templates/``
folder and any ``--templates DIR``; and which template claims a page of a market whose
family is not known.

Later sources override earlier ones family by family: built-in < plugin < the workspace's
``templates/`` < each ``--templates DIR`` in the order given. A template that fails to
load is reported (``TemplateSet.skipped``) and the others load; the family it would have
given keeps its earlier template, if any.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from spector.errors import InputError, TemplateError
from spector.extract._templates import MAX_HTML, Template, builtin_templates, parse_template

__all__ = ["TemplateSet", "claim_template", "load_template", "load_templates"]


@dataclass
class TemplateSet:
    """The templates in effect: ``local`` are the workspace's and ``--templates``' (they
    override built-ins of the same family: ``overrides`` says which, in words)."""

    builtin: dict[str, Template]
    local: dict[str, Template] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    skipped: list[TemplateError] = field(default_factory=list)

    def get(self, family: str | None) -> Template | None:
        return self.local.get(family or "") or self.builtin.get(family or "")

    def all(self) -> list[Template]:
        """Every template in effect, the local ones first, each family once."""
        merged = {**self.builtin, **self.local}
        return sorted(merged.values(), key=lambda t: (t.family not in self.local, t.family))

    def claim(self, host: str | None, html: str | None) -> Template | None:
        return claim_template(host, html, self.all())


def load_template(path: Path, source: str | None = None) -> Template:
    """The template in one file; TemplateError naming the file when it cannot be used."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TemplateError(f"cannot read: {exc.strerror}", where=path) from exc
    return parse_template(data, str(path), source or str(path))


def load_templates(workspace: Path | None = None, dirs: Sequence[Path] = ()) -> TemplateSet:
    """The templates in effect for a workspace (its ``templates/`` folder, if it has one)
    and the folders given; a folder given that does not exist is an InputError."""
    builtin, plugin_errors = builtin_templates()
    found = TemplateSet(dict(builtin), skipped=list(plugin_errors))
    folders: list[tuple[Path, str]] = []
    if workspace is not None and (workspace / "templates").is_dir():
        folders.append((workspace / "templates", "workspace"))
    for folder in dirs:
        if not folder.is_dir():
            raise InputError("no such folder of templates", where=folder, expected="a folder")
        folders.append((folder, "--templates"))
    for folder, label in folders:
        seen: dict[str, Path] = {}
        for path in sorted(folder.glob("*.toml")):
            try:
                template = load_template(path, f"{label} {path}")
            except TemplateError as exc:
                found.skipped.append(exc)
                continue
            if template.family in seen:
                found.skipped.append(
                    TemplateError(
                        f"a second template for family {template.family!r} (the first is "
                        f"{seen[template.family].name}); skipped",
                        where=path,
                        expected="one template per family in a folder",
                    )
                )
                continue
            seen[template.family] = path
            earlier = found.local.get(template.family) or found.builtin.get(template.family)
            if earlier is not None:
                found.overrides[template.family] = (
                    f"{template.source} overrides {earlier.source} ({earlier.name})"
                )
            found.local[template.family] = template
    return found


def claim_template(
    host: str | None, html: str | None, candidates: Iterable[Template]
) -> Template | None:
    """The template that claims a page of a market whose family is not known: the first
    of ``candidates`` that lists the page's host in its ``hosts``, else the first whose
    ``[template.detect]`` matches the page; None when none does. Used by extraction for
    captures of such markets, and by importers to choose a market's family."""
    ordered = list(candidates)
    if host:
        for template in ordered:
            if host.lower() in template.hosts:
                return template
    if not html:
        return None
    detecting = [t for t in ordered if t.detect_title is not None or t.detect_css is not None]
    if not detecting:
        return None
    tree = LexborHTMLParser(html[:MAX_HTML])
    return next((t for t in detecting if t.claims(None, tree)), None)
