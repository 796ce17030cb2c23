"""[F] Selector precision and recall: the range's pages and the annotated corpus, per kind.

Spector's scanner (`spector selectors scan`) reads three sets of documents:

- every page of a generated range (`tiny` and `small`, seed 7) on its last day, rendered
  in memory exactly as the range serves it; a page's truth is the selectors of the
  market's vendor accounts (PGP fingerprint, pay-to BTC and XMR addresses, Telegram
  contacts, from the range's truth files) whose text the page shows;
- the annotated corpus in tests/extract/selector_corpus (forum posts, vendor profiles,
  key blocks wrapped in HTML, base64 blobs, words with handle-like substrings), and its
  held-out part (written after the rules were settled).

Peer: iocsearcher (Caballero et al.'s IOC extractor) on the kinds both tools know
(BTC/ETH/XMR addresses, onions, email, phone, Telegram; a Jabber ID counts as an email on
both sides, as the peer has no such kind), its values normalised by Spector's kinds so
that only what was found is compared. It is optional (not a project dependency): without
it the peer line says how to install it.
"""

from __future__ import annotations

import contextlib
import html
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from spector.extract._selector_eval import Document, SelectorScore, load_corpus, measure
from spector.extract._selectors import Found

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "extract" / "selector_corpus"
MAX_PAGES = 20_000  # per market: the in-memory walk stops there
_HREF = re.compile(r'href="([^"]+)"')
_SKIP = ("/calendar", "/logout", "/login", "/media", "/captcha")
# What each kind is called in iocsearcher.
_PEER_KINDS = {
    "bitcoin": "btc_address",
    "ethereum": "eth_address",
    "monero": "xmr_address",
    "email": "email",
    "phoneNumber": "phone",
    "telegramHandle": "telegram",
    "onionAddress": "onion",
}
SHARED_KINDS = frozenset(
    ["btc_address", "eth_address", "xmr_address", "email", "phone", "telegram", "onion", "onion_v2"]
)


def range_documents(out: Path) -> list[Document]:
    """Every page of the range generated in ``out`` on its last day, with its truth."""
    import pyarrow.parquet as pq

    from spector.sim import load_range
    from spector.sim._generate import armored, pgp_for
    from spector.sim._sites import build_sites

    loaded = load_range(out)
    world, day = loaded.world, int(loaded.truth["day"])
    keys = armored(pgp_for(world))
    sites = build_sites(world, keys)
    by_id = {a.account_id: a for a in world.accounts}
    truth_rows = pq.read_table(out / "world" / "accounts.parquet").to_pylist()
    docs = []
    for market in loaded.truth["markets"]:
        if market["close_day"] is not None and day >= market["close_day"]:
            continue
        shown: list[tuple[str, str, str]] = []  # (kind, value, the text a page shows)
        for row in truth_rows:
            if row["market_id"] != market["market_id"]:
                continue
            key = keys(by_id[row["account_id"]])
            if row["pgp_fingerprint"] and key:
                shown.append(("pgp_fingerprint", row["pgp_fingerprint"], key))
            for kind, column in (("btc_address", "btc_payto"), ("xmr_address", "xmr_payto")):
                if row[column]:
                    shown.append((kind, row[column], row[column]))
            for contact in row["contacts"] or []:
                kind, _, value = contact.partition(":")
                shown.append((kind, value, value))
        site = sites[market["market_id"]]
        for path, page in _walk(site, day):
            text = html.unescape(page)
            expected = frozenset((k, v) for k, v, surface in shown if surface in text)
            docs.append(Document(f"{market['family']}:{path}", page, expected))
    return docs


def _walk(site: object, day: int) -> Iterator[tuple[str, str]]:
    """(path, html) of every page reachable from ``/`` on ``day``, breadth first."""
    render = site.render  # type: ignore[attr-defined]
    seen = {"/"}
    queue = ["/"]
    while queue and len(seen) <= MAX_PAGES:
        target = queue.pop(0)
        parts = urlsplit(target)
        page = render(parts.path, dict(parse_qsl(parts.query)), day)
        if page.status != 200:
            continue
        yield target, page.body
        for href in _HREF.findall(page.body):
            link = html.unescape(href)
            if link.startswith("/") and not link.startswith(_SKIP) and link not in seen:
                seen.add(link)
                queue.append(link)


def peer_scan() -> Callable[[str], list[Found]] | None:
    """iocsearcher's scan as a ``text -> [Found]`` function, or None if not installed."""
    try:
        from iocsearcher.searcher import Searcher
    except ImportError:
        return None
    from spector.errors import SelectorInvalid
    from spector.model import selector_kind

    searcher = Searcher()

    def scan(text: str) -> list[Found]:
        out = []
        for kind, value, start, raw in searcher.search_raw(text, targets=set(_PEER_KINDS)):
            ours = _PEER_KINDS[kind]
            if ours == "onion":
                value = value.lower().removesuffix(".onion") + ".onion"
                ours = "onion_v2" if len(value) == 22 else "onion"
            with contextlib.suppress(SelectorInvalid):  # else kept as given: a false positive
                value = selector_kind(ours).normalise(value)
            out.append(Found(int(start), int(start) + len(raw), ours, value))
        return out

    return scan


def shared(documents: list[Document]) -> list[Document]:
    """The documents with their truth cut to the kinds the peer knows. The peer cannot
    tell a Jabber ID from an email, so both sides count a JID as an email here."""
    return [
        Document(
            d.name,
            d.text,
            frozenset((_fold(k), v) for k, v in d.expected if _fold(k) in SHARED_KINDS),
        )
        for d in documents
    ]


def _fold(kind: str) -> str:
    return "email" if kind == "xmpp" else kind


def _lines(title: str, score: SelectorScore) -> list[str]:
    t = score.total
    out = [
        f"{title}: {score.documents} documents, {t.tp + t.fn} expected selectors: "
        f"precision {t.precision:.3f} ({t.tp}/{t.tp + t.fp}), recall {t.recall:.3f} "
        f"({t.tp}/{t.tp + t.fn})"
    ]
    for kind, k in sorted(score.by_kind.items()):
        out.append(
            f"  {kind:<16} precision {k.precision:.3f} ({k.tp}/{k.tp + k.fp})  "
            f"recall {k.recall:.3f} ({k.tp}/{k.tp + k.fn})"
        )
    out += [f"  spurious: {d} {k} {v}" for d, k, v in score.spurious[:10]]
    out += [f"  missed:   {d} {k} {v}" for d, k, v in score.missed[:10]]
    return out


def _scan_all(pages: list[str]) -> object:
    from spector.extract._selectors import scan_text

    return [scan_text(p) for p in pages]


def _rate(fn: Callable[[list[str]], object], pages: list[str]) -> float:
    fn(pages[:20])  # warm up (imports, caches)
    start = time.process_time()
    fn(pages)
    return len(pages) / max(time.process_time() - start, 1e-9)


def _ours_on_shared_kinds(text: str) -> list[Found]:
    from spector.extract._selectors import scan_text

    folded = (Found(f.start, f.end, _fold(f.kind), f.value) for f in scan_text(text))
    return [f for f in folded if f.kind in SHARED_KINDS]


def run() -> list[str]:
    from spector.sim import generate

    sets: list[tuple[str, list[Document]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in ("tiny", "small"):
            out = Path(tmp) / scale
            generate(7, scale, out, chain=False)
            sets.append(
                (f"range {scale} (seed 7), every page on the last day", range_documents(out))
            )
    sets.append(("corpus", load_corpus(CORPUS)))
    sets.append(("corpus, held-out part", load_corpus(CORPUS / "heldout")))
    lines: list[str] = []
    for title, docs in sets:
        lines += _lines(f"Spector, {title}", measure(docs))
    pages = [d.text for d in sets[1][1]]
    lines.append(
        f"speed on the small range's {len(pages)} pages "
        f"({sum(map(len, pages)) / len(pages) / 1024:.1f} KiB each): "
        f"Spector {_rate(_scan_all, pages):,.0f} pages/s per core"
    )
    peer = peer_scan()
    if peer is None:
        lines.append("peer iocsearcher: not installed (pip install 'iocsearcher>=3.1')")
        return lines
    ours_rate, peer_rate = _rate(_scan_all, pages), _rate(lambda p: [peer(x) for x in p], pages)
    lines.append(
        f"speed, same pages: Spector {ours_rate:,.0f} pages/s, iocsearcher {peer_rate:,.0f} "
        f"pages/s per core (ratio {ours_rate / peer_rate:.1f}x)"
    )
    for title, docs in sets[2:]:
        cut = shared(docs)
        ours = measure(cut, _ours_on_shared_kinds)
        theirs = measure(cut, peer)
        lines += _lines(f"Spector, {title}, kinds iocsearcher knows", ours)
        lines += _lines(f"peer iocsearcher, {title}", theirs)
        lines.append(
            f"ratio (Spector / iocsearcher): precision "
            f"{ours.total.precision / max(theirs.total.precision, 1e-9):.2f}x, recall "
            f"{ours.total.recall / max(theirs.total.recall, 1e-9):.2f}x"
        )
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
