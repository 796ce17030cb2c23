"""The front end's static side: templates carry no inline script or style, no ``on*=``
handlers, no ``javascript:`` URLs and no ``|safe``; our own scripts never eval or write
HTML; the vendored libraries are exactly what VERSIONS.txt (and scripts/vendor-web.lock)
says; every file a template links to exists and is served with the security headers."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.web.harness import WebClient

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "src" / "spector" / "web"
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
VENDOR = STATIC / "vendor"
LOCK = ROOT / "scripts" / "vendor-web.lock"
OUR_JS = ("app.js", "charts.js", "graph.js")

# (what, pattern) for the template scan; patterns see the raw template text.
FORBIDDEN: list[tuple[str, re.Pattern[str]]] = [
    (
        "inline <script> (a script without src, or with a body)",
        re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<script[^>]*>(?!\s*</script>)", re.I),
    ),
    ("<style> element", re.compile(r"<style[\s>]", re.I)),
    ("style= attribute", re.compile(r"<[^>]*\sstyle\s*=", re.I)),
    ("on*= event handler attribute", re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)),
    ("javascript: URL", re.compile(r"javascript\s*:", re.I)),
    ("|safe filter", re.compile(r"\|\s*safe\b")),
    ("autoescape turned off", re.compile(r"{%-?\s*autoescape\s+false", re.I)),
    ("Markup in a template", re.compile(r"\bMarkup\s*\(")),
]

# Our scripts build the DOM with createElement/textContent only.
FORBIDDEN_JS: list[tuple[str, re.Pattern[str]]] = [
    ("eval", re.compile(r"\beval\s*\(")),
    ("new Function", re.compile(r"\bFunction\s*\(")),
    ("innerHTML/outerHTML", re.compile(r"\b(inner|outer)HTML\b")),
    ("insertAdjacentHTML", re.compile(r"insertAdjacentHTML")),
    ("document.write", re.compile(r"document\.write")),
    ("string timer", re.compile(r"set(Timeout|Interval)\s*\(\s*['\"]")),
    ("style attribute", re.compile(r"setAttribute\(\s*['\"]style")),
    ("remote URL", re.compile(r"https?://")),
]


JINJA_COMMENT = re.compile(r"{#.*?#}", re.S)


def scan(text: str, rules: list[tuple[str, re.Pattern[str]]]) -> list[str]:
    """What of ``rules`` ``text`` breaks, with the line of each hit (Jinja comments, which
    never reach the page, are blanked first, keeping the line numbers)."""
    text = JINJA_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    found = []
    for what, pattern in rules:
        for m in pattern.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.append(f"line {line}: {what}: {m.group(0)[:60]!r}")
    return found


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def _versions() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in (VENDOR / "VERSIONS.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            file, digest, spec, inner = line.split("\t")
            rows.append((file, digest, spec, inner))
    return rows


@pytest.mark.parametrize(
    "snippet",
    [
        "<script>alert(1)</script>",
        "<script src='/static/app.js'>alert(1)</script>",
        "<style>body{}</style>",
        '<div style="color:red">',
        "<img src=x onerror=alert(1)>",
        '<a href="/x"\n   onclick="go()">',
        '<a href="javascript:alert(1)">',
        "{{ title|safe }}",
        "{{ title | safe }}",
        "{% autoescape false %}{{ x }}{% endautoescape %}",
    ],
)
def test_the_scan_catches_each_forbidden_pattern(snippet: str) -> None:
    assert scan(snippet, FORBIDDEN), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="/static/vendor/htmx.min.js" defer></script>',
        '<a href="/onion?q={{ q | urlencode }}">onion=</a>',
        '<button class="confirm" hx-post="/x">Confirm</button>',
        "{{ label | short }}",
    ],
)
def test_the_scan_lets_ordinary_markup_pass(snippet: str) -> None:
    assert scan(snippet, FORBIDDEN) == []


def test_templates_have_no_inline_script_style_handlers_or_safe() -> None:
    templates = _templates()
    assert len(templates) >= 5
    problems = {
        str(p.relative_to(TEMPLATES)): hits
        for p in templates
        if (hits := scan(p.read_text(), FORBIDDEN))
    }
    assert problems == {}


def test_web_code_marks_nothing_safe() -> None:
    """No Python of spector.web builds markup that bypasses autoescape."""
    hits = {}
    for path in sorted(WEB.glob("*.py")):
        text = path.read_text()
        found = [m.group(0) for m in re.finditer(r"\bMarkup\s*\(|autoescape\s*=\s*False", text)]
        if found:
            hits[path.name] = found
    assert hits == {}


@pytest.mark.parametrize("name", OUR_JS)
def test_our_scripts_never_eval_or_write_html(name: str) -> None:
    assert scan((STATIC / name).read_text(), FORBIDDEN_JS) == []


def test_charts_use_the_interpreter_and_no_injected_style() -> None:
    """The options that keep vega-embed inside the CSP (the browser test sees the effect)."""
    text = (STATIC / "charts.js").read_text()
    for option in (
        "actions: false",
        "ast: true",
        "expr: window.vega.expressionInterpreter",
        "defaultStyle: false",
        "disableDefaultStyle: true",
    ):
        assert option in text, option


def test_vendored_files_match_versions_txt() -> None:
    rows = _versions()
    listed = {file for file, *_ in rows}
    for file, digest, _spec, _inner in rows:
        body = (VENDOR / file).read_bytes()
        assert hashlib.sha256(body).hexdigest() == digest, f"{file} differs from VERSIONS.txt"
    present = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file()}
    assert present - {"VERSIONS.txt"} == listed, "vendor/ holds files VERSIONS.txt does not list"


def test_versions_txt_is_the_lock_and_has_every_library_and_licence() -> None:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version, integrity = line.split()
            assert integrity.startswith("sha512-"), line
            assert len(integrity) == 95, line
            pins[name] = version
    assert set(pins) == {
        "htmx.org",
        "cytoscape",
        "vega",
        "vega-lite",
        "vega-embed",
        "vega-interpreter",
    }
    assert pins["htmx.org"].startswith("2.")
    assert pins["cytoscape"].startswith("3.")
    assert pins["vega"].split(".")[0] in {"5", "6"}
    specs = {spec for _f, _d, spec, _i in _versions()}
    assert specs == {f"{n}@{v}" for n, v in pins.items()}
    files = {f for f, *_ in _versions()}
    for name in pins:
        assert f"licenses/{name}.txt" in files
        assert "AS IS" in (VENDOR / "licenses" / f"{name}.txt").read_text().upper()
    for lib in (
        "htmx.min.js",
        "cytoscape.min.js",
        "vega.min.js",
        "vega-lite.min.js",
        "vega-embed.min.js",
        "vega-interpreter.min.js",
    ):
        assert lib in files


def test_vendor_script_check_mode_agrees() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor-web"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok: 6 packages")


def test_vendor_script_check_mode_refuses_a_changed_file(tmp_path: Path) -> None:
    """--check on a copy of the tree whose htmx differs by a byte: exit 2, one error line."""
    copy = tmp_path / "tree"
    (copy / "scripts").mkdir(parents=True)
    for name in ("vendor-web", "vendor-web.lock"):
        (copy / "scripts" / name).write_bytes((ROOT / "scripts" / name).read_bytes())
    target = copy / "src" / "spector" / "web" / "static" / "vendor"
    target.mkdir(parents=True)
    for path in VENDOR.rglob("*"):
        if path.is_file():
            out = target / path.relative_to(VENDOR)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(path.read_bytes())
    (target / "htmx.min.js").write_bytes((VENDOR / "htmx.min.js").read_bytes() + b" ")
    proc = subprocess.run(
        [sys.executable, str(copy / "scripts" / "vendor-web"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ")
    assert "htmx.min.js differs" in proc.stderr


def test_every_linked_static_file_exists() -> None:
    linked = set()
    for path in _templates():
        linked |= set(re.findall(r"""(?:src|href)=["'](/static/[^"'{}?#]+)""", path.read_text()))
    for name in OUR_JS:
        linked |= {"/static/" + name}
    for js in OUR_JS:
        linked |= {
            "/static/vendor/" + m
            for m in re.findall(r'"([\w.-]+\.min\.js)"', (STATIC / js).read_text())
        }
    assert "/static/vendor/htmx.min.js" in linked
    assert "/static/vendor/cytoscape.min.js" in linked
    missing = sorted(u for u in linked if not (STATIC / u.removeprefix("/static/")).is_file())
    assert missing == []


@pytest.mark.parametrize(
    "url",
    [
        "/static/vendor/htmx.min.js",
        "/static/charts.js",
        "/static/graph.js",
        "/static/app.css",
        "/static/vendor/vega-embed.min.js",
    ],
)
def test_static_files_are_served_with_the_security_headers(web: WebClient, url: str) -> None:
    response = web.get(url)
    assert response.status_code == 200
    kind = "text/css" if url.endswith(".css") else "javascript"
    assert kind in response.headers["content-type"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.content == (STATIC / url.removeprefix("/static/")).read_bytes()


def test_no_vendored_file_outside_the_list_is_served(web: WebClient) -> None:
    assert web.get("/static/vendor/../../_app.py").status_code == 404
    assert web.get("/static/vendor/nope.min.js").status_code == 404
