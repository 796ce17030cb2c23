"""Contact handles taken only where the text says what they are.

A Telegram or Wickr username is a short word; a Session ID is 66 hex digits; a Jabber
address looks like an email. Taken from any text without context they come out of
ordinary words ("Fas[tg]rowing"), key blocks and base64, so each is taken only with
context, the way a reader knows it:

- a link: ``t.me/NAME``, ``telegram.me/NAME``, ``tg://resolve?domain=NAME``, ``xmpp:JID``;
- a keyword before it with a separator (``Telegram: NAME``, ``tg - @NAME``, ``Wickr ID =
  NAME``), or a keyword and an ``@`` (``telegram @NAME``, ``@NAME on Telegram``);
- a label: the keyword alone on a line (a ``<dt>``, ``<th>``, ``<b>``) and the value
  alone on the next one;
- for Session IDs and Jabber addresses, whose shape is distinctive, the keyword nearby on
  the same line or the line before (Jabber also: a server that serves only XMPP).

Contract: ``contact_candidates(text)`` yields (start, end, kind, raw value) in ``text``;
the caller validates each value with its kind and drops those inside excluded zones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["contact_candidates", "jabber_context"]

_SP = r"[ \t\xa0]"
_NAME_TG = r"[A-Za-z][A-Za-z0-9_]{3,31}"
_NAME_WICKR = r"[A-Za-z0-9][A-Za-z0-9._-]{2,31}"
# What may stand between a keyword and its value.
_WORDS = (
    r"(?:[-‐][^\W\d_]{2,12})?"  # a compound: Telegram-Kanal, телеграм-бот, Wickr-ID
    rf"(?:{_SP}*\((?:[^()\n]{{0,24}})\))?"  # Telegram (fast replies): NAME
    rf"(?:{_SP}+(?:id|user(?:name)?|handle|channel|contact|account|me|name))?"  # Telegram ID:
)
_JOIN = (
    rf"(?:(?P<sep>[\"']?{_SP}*[:=\-–—>|→：]+{_SP}*(?:\n\s*)?[\"']?)"  # Telegram: NAME, JSON
    rf"|(?P<label>{_SP}*\n\s*)"  # a label line, then the value alone on its line
    rf"|(?P<at>{_SP}*,?{_SP}+(?:(?:is|at|on|via|в|на){_SP}+)?(?=@)))"  # telegram @NAME
)
# Russian inflects the word ("в телеге", "в телеграме"): the common case endings count.
_KW_TELEGRAM = r"(?:telegram{1,2}|telega|tg|телеграм{1,2}[аеу]?|телег[аеиу]|тг)"
_KW_WICKR = r"(?:wickr(?:[ \t\xa0]*me)?|wickrme)"
_END_TG = r"(?![A-Za-z0-9_@]|\.[A-Za-z0-9]|:/)"

_TELEGRAM_KEYWORD = re.compile(
    rf"(?<!\w){_KW_TELEGRAM}(?!\w){_WORDS}{_JOIN}@?(?P<value>{_NAME_TG}){_END_TG}", re.I
)
_TELEGRAM_AFTER = re.compile(
    rf"(?<![\w@.])@(?P<value>{_NAME_TG}){_END_TG}{_SP}*[(\[]?{_SP}*(?:(?:on|via|at|in|@){_SP}*)?"
    rf"{_KW_TELEGRAM}(?!\w)",
    re.I,
)
_TELEGRAM_LINK = re.compile(
    rf"(?<![\w.@-])(?:https?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/(?:s/)?@?(?P<value>{_NAME_TG})"
    r"(?![A-Za-z0-9_])"
    rf"|(?<![\w.-])tg://resolve\?domain=(?P<deep>{_NAME_TG})(?![A-Za-z0-9_])",
    re.I,
)
_MORE_TG = re.compile(rf"{_SP}*(?:,|/|\||&|\bor\b|\band\b){_SP}*@(?P<value>{_NAME_TG}){_END_TG}")
_WICKR_KEYWORD = re.compile(
    rf"(?<!\w){_KW_WICKR}(?!\w){_WORDS}{_JOIN}@?(?P<value>{_NAME_WICKR})(?![A-Za-z0-9_@])", re.I
)
_SESSION_ID = re.compile(r"(?<![0-9A-Za-z])05[0-9a-fA-F]{64}(?![0-9A-Za-z])")
# A keyword is a word of its own, not part of a host name (``vendor@jabber.ccc.de``).
_SESSION_KEYWORD = re.compile(r"(?<![\w@.])(?:getsession\.org|session|getsession)(?!\w|\.\w)", re.I)
_JABBER_KEYWORD = re.compile(
    r"(?<![\w@.])(?:jabber|xmpp|jid|omemo|otr|conversations)(?!\w|\.\w)", re.I
)

# t.me paths that are Telegram's own pages, not usernames.
_TELEGRAM_RESERVED_WORDS = (
    "joinchat addstickers addemoji addtheme addlist setlanguage share proxy socks login "
    "confirmphone contact boost invoice iv"
)
_TELEGRAM_RESERVED = frozenset(_TELEGRAM_RESERVED_WORDS.split())
# Words that follow "Telegram:" in prose and are not usernames.
_NOT_HANDLES_WORDS = (
    "none available unavailable soon coming contact message please only private channel group "
    "account username here below above link later request upon support same ask inbox dm pm send "
    "write add join not no nope never gone disabled offline removed banned"
)
_NOT_HANDLES = frozenset(_NOT_HANDLES_WORDS.split())
# Public servers that serve XMPP and no mail: an address there is a Jabber ID.
_XMPP_SERVERS_WORDS = (
    "exploit.im xmpp.is jabber.ccc.de jabber.de jabber.ru jabber.org jabber.cz jabber.fr "
    "jabber.at jabber.calyxinstitute.org jabber.systemli.org thesecure.biz jabb.im dukgo.com "
    "creep.im conversations.im jabbim.com 07f.de xmpp.jp 404.city yax.im trashserver.net blah.im "
    "jabber.hot-chilli.net suchat.org jabber.otr.im"
)
_XMPP_SERVERS = frozenset(_XMPP_SERVERS_WORDS.split())
_CONTEXT_CHARS = 96  # how far back a Session ID's or JID's keyword is looked for
_MAX_GAP = 24  # characters between that keyword and the value ("Jabber (OTR only): ")
_MAX_LABEL = 40  # a label line is short ("Session ID", "Jabber / XMPP:")


def contact_candidates(text: str) -> Iterator[tuple[int, int, str, str]]:
    """(start, end, kind, raw value) of every handle the text gives context for."""
    for match in _TELEGRAM_LINK.finditer(text):
        group = "value" if match["value"] else "deep"
        if match[group].lower() not in _TELEGRAM_RESERVED:
            yield match.start(group), match.end(group), "telegram", match[group]
    for match in _TELEGRAM_KEYWORD.finditer(text):
        if _takes(text, match):
            yield match.start("value"), match.end("value"), "telegram", match["value"]
            pos = match.end()
            while more := _MORE_TG.match(text, pos):
                yield more.start("value"), more.end("value"), "telegram", more["value"]
                pos = more.end()
    for match in _TELEGRAM_AFTER.finditer(text):
        yield match.start("value"), match.end("value"), "telegram", match["value"]
    for match in _WICKR_KEYWORD.finditer(text):
        value = match["value"].rstrip(".-")
        if _takes(text, match) and len(value) >= 3:
            start = match.start("value")
            yield start, start + len(value), "wickr", value
    for match in _SESSION_ID.finditer(text):
        if _has_context(text, match.start(), match.end(), _SESSION_KEYWORD):
            yield match.start(), match.end(), "session_id", match.group()


def jabber_context(text: str, start: int, end: int) -> bool:
    """Whether the email-shaped ``text[start:end]`` is said to be a Jabber/XMPP address."""
    if text[max(0, start - 5) : start].lower() == "xmpp:":
        return True
    domain = text[start:end].rpartition("@")[2].lower()
    first = domain.split(".", 1)[0]
    if domain in _XMPP_SERVERS or first in ("jabber", "xmpp", "jabb", "jabbim"):
        return True
    return _has_context(text, start, end, _JABBER_KEYWORD)


def _takes(text: str, match: re.Match[str]) -> bool:
    value = match["value"]
    if value.lower() in _NOT_HANDLES:
        return False
    rest = text[match.end("value") : match.end("value") + 80]
    sep = match["sep"]
    if match["label"] is not None or (sep is not None and "\n" in sep):
        # A label: the value must stand alone on its line.
        return re.match(r"[ \t\xa0]*(?:\r?\n|$)", rest) is not None
    if sep is not None and sep.strip(" \t\xa0") in ("-", "–", "—") and "@" not in match.group():
        # "Telegram - fastest replies" is prose: after a dash the value must end the phrase.
        return re.match(r"[ \t\xa0]*(?:$|\r?\n|[,.;:)(|/])", rest) is not None
    return True


def _has_context(text: str, start: int, end: int, keyword: re.Pattern[str]) -> bool:
    """The keyword shortly before the value on its line (nothing address-like between),
    or alone on the line before a value that stands alone (a label), or in brackets
    just after it ("05ab... (Session)")."""
    head, _, current = text[max(0, start - _CONTEXT_CHARS) : start].rpartition("\n")
    if current.strip():
        hits = list(keyword.finditer(current))
        if hits:
            gap = current[hits[-1].end() :]
            if len(gap) <= _MAX_GAP and "@" not in gap:
                return True
    else:
        label = head.rstrip().rpartition("\n")[2]
        if len(label.strip()) <= _MAX_LABEL and keyword.search(label):
            return True
    after = text[end : end + 24]
    return re.match(rf"{_SP}*[(\[]{_SP}*{keyword.pattern}", after, re.I) is not None
