"""The text a reader sees in an HTML page, with a map back to the page's characters.

Selectors on real pages hide behind markup: ``Telegram:</b> <a ...>@shop</a>``,
``vendor&#64;jabber.ccc.de``, a key block broken by ``<br>``. The text view drops tags
(block-level tags and ``<br>`` become a line break, inline tags vanish), drops comments,
scripts and styles, and decodes entities, while remembering for every character of the
view which characters of the page it came from. Scanners work on the view and report
offsets in the page.

Contract: ``TextView.of(page)`` never raises; ``raw_span(start, end)`` maps a span of
the view to the smallest span of the page that holds it (an entity maps to the whole
entity). For text with no markup the view is the text itself.
"""

from __future__ import annotations

import bisect
import html
import re
from dataclasses import dataclass

__all__ = ["TextView", "looks_like_html"]

# Tags that do not break a line of text (HTML "phrasing content" that is commonly styled
# inline). Every other tag, and every unknown one, is a line break.
_INLINE_WORDS = (
    "a abbr b bdi bdo big cite code data del dfn em font i ins kbd label mark nobr q s samp small "
    "span strike strong sub sup time tt u var wbr"
)
_INLINE = frozenset(_INLINE_WORDS.split())
_ATTRS = r"""(?:[^<>"']|"[^"<]{0,1000}"|'[^'<]{0,1000}'){0,2000}"""  # bounded: hostile pages
_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)"  # a comment (an unclosed one runs to the end, as browsers read it)
    rf"|<(script|style)\b{_ATTRS}>.*?(?:</\1\s*>|\Z)"
    r"|<!\[CDATA\[.*?(?:\]\]>|\Z)"
    rf"|</?([A-Za-z][A-Za-z0-9:-]*){_ATTRS}>"
    r"|<[!?][^<>]{0,2000}>"
    r"|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?",
    re.S | re.I,
)
_MARKUP_HINT = re.compile(r"<[A-Za-z/!]|&(?:#|[A-Za-z]{2,31};)")


def looks_like_html(text: str) -> bool:
    """Whether ``text`` holds tags or entities (so its text view differs from it)."""
    return _MARKUP_HINT.search(text) is not None


@dataclass(frozen=True, slots=True)
class TextView:
    """``text`` is what a reader sees; segments map it back to the page.

    Segment ``i`` covers view characters ``[view_starts[i], view_starts[i + 1])``; it is
    either a verbatim copy of page characters from ``raw_starts[i]`` on, or the
    replacement of one piece of markup ``[raw_starts[i], raw_ends[i])`` (an entity).
    """

    text: str
    view_starts: tuple[int, ...]
    raw_starts: tuple[int, ...]
    raw_ends: tuple[int, ...]
    verbatim: tuple[bool, ...]

    @classmethod
    def identity(cls, text: str) -> TextView:
        return cls(text, (0,), (0,), (len(text),), (True,))

    @classmethod
    def of(cls, page: str) -> TextView:
        """The text view of ``page`` (HTML); plain text maps to itself."""
        if not looks_like_html(page):
            return cls.identity(page)
        parts: list[str] = []
        view_starts: list[int] = []
        raw_starts: list[int] = []
        raw_ends: list[int] = []
        verbatim: list[bool] = []
        length = 0

        def emit(piece: str, raw_start: int, raw_end: int, copy: bool) -> None:
            nonlocal length
            if not piece:
                return
            parts.append(piece)
            view_starts.append(length)
            raw_starts.append(raw_start)
            raw_ends.append(raw_end)
            verbatim.append(copy)
            length += len(piece)

        pos = 0
        for match in _TOKEN.finditer(page):
            if match.start() > pos:
                emit(page[pos : match.start()], pos, match.start(), True)
            token = match.group()
            if token.startswith("&"):
                decoded = html.unescape(token)
                emit(decoded, match.start(), match.end(), decoded == token)
            elif match.group(2) is None or match.group(2).lower() not in _INLINE:
                # A block tag, <br>, a comment, a script: the text breaks here.
                emit("\n", match.start(), match.end(), False)
            pos = match.end()
        if pos < len(page):
            emit(page[pos:], pos, len(page), True)
        return cls(
            "".join(parts), tuple(view_starts), tuple(raw_starts), tuple(raw_ends), tuple(verbatim)
        )

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """The page span ``[s, e)`` that view span ``[start, end)`` came from."""
        return self._raw_start(start), self._raw_end(end)

    def _segment(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self.view_starts, pos) - 1)

    def _raw_start(self, pos: int) -> int:
        i = self._segment(pos)
        if self.verbatim[i]:
            return self.raw_starts[i] + (pos - self.view_starts[i])
        return self.raw_starts[i]

    def _raw_end(self, pos: int) -> int:
        if pos <= 0:
            return self._raw_start(0)
        i = self._segment(pos - 1)  # the segment of the span's last character
        if self.verbatim[i]:
            return self.raw_starts[i] + (pos - self.view_starts[i])
        return self.raw_ends[i]
