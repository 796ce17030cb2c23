"""Selectors on real text: key blocks wrapped in HTML, handles only with context, v2 onions,
nothing from inside words, key blocks or base64."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spector.cli import main
from spector.extract import scan_text
from spector.extract._selectors import _fingerprint, read_text
from spector.model import onion_address_from_key
from spector.sim._pgp import _armor, make_public_key

REAL_PAGE = (
    Path(__file__).parents[3] / "shared/data/markets/pages/drugmarket-product-2019-09-11.htm"
)
WHEN = datetime(2019, 3, 1, tzinfo=UTC)
KEY = make_public_key(b"vendor-greenleaf", "GreenLeaf Pharma", WHEN)
OTHER = make_public_key(b"vendor-nordic", "nordic_express", WHEN)


def finds(text: str) -> set[tuple[str, str]]:
    return {(f.kind, f.value) for f in scan_text(text)}


def _lines(armored: str) -> list[str]:
    return armored.strip().splitlines()


def _entities(line: str) -> str:
    return line.replace("+", "&#43;").replace("/", "&#x2F;").replace("=", "&#61;")


WRAPPINGS = {
    # Dream Market's profile: one <p>, <br /> between lines, entities, one source line.
    "br and entities": lambda a: "<p>" + "<br />".join(map(_entities, _lines(a))) + "</p>",
    # One element per line, &nbsp; indentation, a header the block did not have.
    "spread over elements": lambda a: "\n".join(
        f"<div><span>&nbsp;&nbsp;{x}</span></div>"
        for x in [_lines(a)[0], "Comment: GPGTools - https://gpgtools.org", *_lines(a)[1:]]
    ),
    # <p> per paragraph: BEGIN, headers, body, checksum, END in separate paragraphs.
    "paragraphs": lambda a: "".join(f"<p>{x}</p>" for x in _lines(a)),
    # Copied from a rendered page: every line break became a space.
    "collapsed": lambda a: " ".join([_lines(a)[0], "Version: GnuPG v2", *_lines(a)[1:]]),
    # A reply quoting the block.
    "quoted": lambda a: "\n".join("> " + x for x in _lines(a)),
    # A JSON export: the block as a string with \n escapes.
    "json string": lambda a: json.dumps({"pgp": a}),
    # A <textarea> with decimal entities and CRLF line ends.
    "textarea crlf": lambda a: (
        "<textarea>"
        + "\r\n".join(
            x.replace("+", "&#43;").replace("/", "&#47;").replace("=", "&#61;") for x in _lines(a)
        )
        + "</textarea>"
    ),
    # Long words allowed to wrap: <wbr> and &shy; inside the base64 lines.
    "wbr and shy": lambda a: "<br>".join(
        x if " " in x else x[:20] + "<wbr>" + x[20:30] + "&shy;" + x[30:] for x in _lines(a)
    ),
}


@pytest.mark.parametrize("wrap", WRAPPINGS.values(), ids=WRAPPINGS.keys())
def test_key_block_in_html_yields_its_fingerprint(wrap):
    page = f"<html><body><h3>My key</h3>{wrap(KEY.armored)}<p>thanks</p></body></html>"
    found = [f for f in scan_text(page) if f.kind == "pgp_fingerprint"]
    assert [f.value for f in found] == [KEY.fingerprint]
    assert page[found[0].start :].startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert page[: found[0].end].endswith("-----END PGP PUBLIC KEY BLOCK-----")


@pytest.mark.parametrize("wrap", WRAPPINGS.values(), ids=WRAPPINGS.keys())
def test_a_template_field_holding_the_wrapped_block_yields_its_fingerprint(wrap):
    # A template's `pgp` field may hold the element's inner HTML, not the page's text.
    assert _fingerprint(wrap(KEY.armored)) == KEY.fingerprint


@pytest.mark.parametrize("wrap", WRAPPINGS.values(), ids=WRAPPINGS.keys())
def test_a_damaged_key_block_yields_nothing(wrap):
    lines = _lines(KEY.armored)
    damaged = "\n".join(lines[:3] + lines[4:])  # one base64 line lost: the CRC fails
    assert finds(f"<p>{wrap(damaged)}</p>") == set()


def test_a_changed_character_in_the_key_is_caught_by_the_checksum():
    # One character of the key material changed: the packets still parse, but to another
    # fingerprint. The CRC-24 line says the block is not what was written.
    lines = _lines(KEY.armored)
    line = lines[2]
    flipped = line[:30] + ("A" if line[30] != "A" else "B") + line[31:]
    assert finds(KEY.armored.replace(line, flipped)) == set()


def test_a_block_without_its_checksum_line_is_still_read():
    lines = [x for x in _lines(KEY.armored) if not x.startswith("=")]
    assert finds("\n".join(lines)) == {("pgp_fingerprint", KEY.fingerprint)}


def test_two_certificates_in_one_block_yield_both():
    binary = base64.b64decode("".join(_lines(KEY.armored)[2:-2])) + base64.b64decode(
        "".join(_lines(OTHER.armored)[2:-2])
    )
    ring = _armor(binary)
    assert finds(ring) == {
        ("pgp_fingerprint", KEY.fingerprint),
        ("pgp_fingerprint", OTHER.fingerprint),
    }


def test_json_values_are_upper_hex_without_spaces(tmp_path, capsys):
    page = tmp_path / "vendor.html"
    body = WRAPPINGS["br and entities"](KEY.armored)
    page.write_text(f"<p>Old market: http://pwoah7foa6au2pul.onion/</p>{body}", encoding="utf-8")
    assert main(["selectors", "scan", str(page), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["kind"], r["value"]) for r in rows] == [
        ("onion_v2", "pwoah7foa6au2pul.onion"),
        ("pgp_fingerprint", KEY.fingerprint),
    ]
    assert rows[1]["value"] == rows[1]["value"].upper().replace(" ", "")
    assert main(["selectors", "scan", str(page)]) == 0
    assert "pwoah7foa6au2pul.onion  (historical)" in capsys.readouterr().out


# -- contact handles need context -------------------------------------------------------
WITH_CONTEXT = [
    ("Telegram: @green_shop24", ("telegram", "green_shop24")),
    ("tg - @green_shop24", ("telegram", "green_shop24")),
    ("hit me up on telegram @green_shop24 anytime", ("telegram", "green_shop24")),
    ("find @green_shop24 on Telegram", ("telegram", "green_shop24")),
    ('<a href="https://t.me/green_shop24">channel</a>', ("telegram", "green_shop24")),
    ("tg://resolve?domain=green_shop24", ("telegram", "green_shop24")),
    ("<dt>Telegram</dt><dd>green_shop24</dd>", ("telegram", "green_shop24")),
    ("<b>Telegram:</b> <a>@green_shop24</a>", ("telegram", "green_shop24")),
    ("Телеграм: @green_shop24", ("telegram", "green_shop24")),
    ("оператор в телеге @green_shop24", ("telegram", "green_shop24")),
    ("Telegram-Kanal: @green_shop24", ("telegram", "green_shop24")),
    ('{"telegram": "@green_shop24"}', ("telegram", "green_shop24")),
    ("Wickr: green.shop.", ("wickr", "green.shop")),
    ("Wickr Me ID = green.shop", ("wickr", "green.shop")),
    ("<th>Wickr</th><td>green-shop</td>", ("wickr", "green-shop")),
    ("Session ID: 05" + "ab" * 32, ("session_id", "05" + "ab" * 32)),
    ("<th>Session</th><td>05" + "ab" * 32 + "</td>", ("session_id", "05" + "ab" * 32)),
    ("Jabber (OTR only): shop@example.org", ("xmpp", "shop@example.org")),
    ("xmpp:shop@example.org", ("xmpp", "shop@example.org")),
    ("contact: shop@exploit.im", ("xmpp", "shop@exploit.im")),
    ("<b>Jabber:</b> shop&#64;example.org", ("xmpp", "shop@example.org")),
]


@pytest.mark.parametrize(("text", "expected"), WITH_CONTEXT)
def test_handles_with_context_are_taken(text, expected):
    assert finds(text) == {expected}


WITHOUT_CONTEXT = [
    "Outstanding quality, a fastgrowing shop, outgoing parcels daily",
    "@green_shop24 says hi",  # an @name alone could be any network's
    "green_shop24",
    "Visit chat.me/supportdesk or what.me/everyday",
    "stg: productionmirror",
    "Mr Wickremesinghe: chairman",
    "Telegram: none. Telegram - fastest replies are on Wickr. Wickr: not anymore.",
    "Session expired.\nYour order 05" + "ab" * 32 + " is paid",
    "possession: 05" + "ab" * 32,
    "SHA1 of the archive: 2FD4E1C67A2D28FCED849EE1BB76E7391B93EB12",
    "Icons: icon@2x.png sprite@3x.svg",
    "Telegram: https://example.org/page",
    "<dt>Telegram</dt><dd>fastest replies guaranteed</dd>",  # a label's value stands alone
    "<th>Wickr</th><td>before ordering read the FAQ</td>",
]


@pytest.mark.parametrize("text", WITHOUT_CONTEXT)
def test_nothing_is_taken_without_context(text):
    assert finds(text) == set()


def test_email_stays_an_email_next_to_a_jabber_id():
    text = "Jabber: vendor@jabber.ccc.de or mail shop@example.org"
    assert finds(text) == {("xmpp", "vendor@jabber.ccc.de"), ("email", "shop@example.org")}


def test_nothing_but_its_fingerprint_from_inside_a_key_block():
    lines = _lines(KEY.armored)
    header = "Comment: Telegram: @in_the_header, wickr: in.the.header"
    block = "\n".join([lines[0], header, *lines[1:]])
    text = f"Telegram: @real_handle\n{block}\nthanks"
    assert finds(text) == {("telegram", "real_handle"), ("pgp_fingerprint", KEY.fingerprint)}
    # A damaged block is no text either: its lines stay out of reach.
    damaged = block.replace(lines[3], lines[3][:-4] + "/tg\nGreenShop24")
    assert finds(damaged) == set()


def test_nothing_from_inside_base64():
    rng = random.Random(5)
    blob = base64.b64encode(rng.randbytes(3000)).decode()
    eth = "0x" + "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"  # all lower case: no checksum
    blob = blob[:500] + "+" + eth + "/" + blob[543:]
    mime = "\n".join(blob[i : i + 76] for i in range(0, len(blob), 76))
    mime = mime.rsplit("\n", 1)[0][:-3] + "/tg\nGreenShop24x"  # a label, to the eye
    text = (
        f'<img src="data:image/png;base64,{blob[:1200]}">'
        f"<pre>Content-Transfer-Encoding: base64\n\n{mime}</pre>"
        "<p>Questions? Telegram: @label_helper_bot</p>"
    )
    assert finds(text) == {("telegram", "label_helper_bot")}
    assert finds(mime) == set()
    assert ("eth_address", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed") in finds(f"pay {eth}")


# -- onions -----------------------------------------------------------------------------
@given(st.binary(min_size=32, max_size=32), st.sampled_from(["", "http://", "www.", "x "]))
def test_a_v3_onion_is_never_also_a_v2_one(key, before):
    host = onion_address_from_key(key)
    found = scan_text(f"{before}{host}/path and {host.upper()}.")
    assert {f.kind for f in found} == {"onion"}
    # Nor is the tail of a 56-character label that fails its checksum.
    broken = ("b" if host[0] == "a" else "a") + host[1:]
    assert scan_text(f"{before}{broken}/path") == []


def test_v2_onions_with_schemes_subdomains_and_case():
    text = (
        '<a href="http://www.agorahooawayyfoe.onion/login">Agora</a> HANSAMKT2RR6NFG3.ONION, '
        "silkroadvb5piz3r.onion. not x3g2upl4pq6kufc4m.onion nor 3g2upl4pq6kufc4m.onionx"
    )
    assert finds(text) == {
        ("onion_v2", "agorahooawayyfoe.onion"),
        ("onion_v2", "hansamkt2rr6nfg3.onion"),
        ("onion_v2", "silkroadvb5piz3r.onion"),
    }


@pytest.mark.skipif(not REAL_PAGE.is_file(), reason="shared data not present")
def test_real_saved_page_yields_its_v2_onion_24_times(capsys):
    assert main(["selectors", "scan", str(REAL_PAGE), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(rows) == 24  # MANIFEST.md: 24 mentions
    assert {(r["kind"], r["value"]) for r in rows} == {("onion_v2", "4yjes6zfucnh7vcj.onion")}
    text = read_text(REAL_PAGE.read_bytes())
    assert all(text[r["start"] : r["end"]].lower() == "4yjes6zfucnh7vcj.onion" for r in rows)


# -- offsets and decoding ---------------------------------------------------------------
def test_offsets_from_the_text_view_point_into_the_page():
    page = "<p><b>Jabber:</b> vendor&#64;jabber.ccc.de &amp; <i>Telegram</i>: @shop_one</p>"
    spans = {f.kind: page[f.start : f.end] for f in scan_text(page)}
    assert spans == {"xmpp": "vendor&#64;jabber.ccc.de", "telegram": "shop_one"}


def test_a_file_in_a_legacy_encoding_is_read_by_its_declared_charset():
    page = '<meta charset="windows-1251"><p>Телеграм: @green_shop24</p>'.encode("cp1251")
    text = read_text(page)
    assert "Телеграм" in text
    assert finds(text) == {("telegram", "green_shop24")}


_PIECES = [*"<>&#;/=\"' abcpr-:@.\n05", "<br>", "&amp;", "&#64;", "<p>", "Telegram:", "tg"]


@given(st.lists(st.sampled_from(_PIECES), max_size=80).map("".join))
def test_html_like_noise_never_crashes_and_offsets_are_valid(text):
    for found in scan_text(text):
        assert 0 <= found.start < found.end <= len(text)


def test_a_clearsigned_message_is_text_and_its_signature_names_the_signer():
    # A canary signed with gpg (corpus/signed_canary.html) with its text replaced: the
    # scanner does not verify signatures, it reads the issuer; the text stays text.
    page = (Path(__file__).parent / "selector_corpus" / "signed_canary.html").read_text("utf-8")
    signed = page[page.index("-----BEGIN PGP SIGNED") : page.index("-----END PGP SIGNATURE-----")]
    signature = signed.partition("-----BEGIN PGP SIGNATURE-----")[2]
    text = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nWickr\ngreenleafrx\n"
    text += "-----BEGIN PGP SIGNATURE-----" + signature + "-----END PGP SIGNATURE-----\n"
    assert finds(text) == {
        ("wickr", "greenleafrx"),
        ("pgp_fingerprint", "D241888FE0927DB98FA1DB7EF8AF2AD72C731363"),
    }


def test_a_cut_key_block_keeps_its_lines_out_of_reach():
    lines = _lines(KEY.armored)
    cut = "\n".join([lines[0], "Version: GnuPG v2", "", *lines[2:5]])  # the page ends here
    cut = cut.replace(lines[3], lines[3][:-4] + "/tg\nGreenShop24")
    assert finds(f"<p>Telegram: @real_handle</p><pre>{cut}") == {("telegram", "real_handle")}
