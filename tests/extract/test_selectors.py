"""Selectors from any text: exact finds, checksums enforced, never a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from spector.cli import main
from spector.extract import scan_text
from spector.model import onion_address_from_key
from spector.sim._pgp import make_public_key

SAMPLE = (
    "Contact: jabber: Vendor@jabber.ccc.de or mail shop@example.org, tg: @green_shop24\n"
    "BTC 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 "
    "bad 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3\n"
    "ETH 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed onion "
    "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion call +49 151 12345678\n"
    "XMR 44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2V"
    "BBEt7f2wfn3RVGQBEP3A wickr: green.shop session 05" + "ab" * 32 + "\n"
)


def test_sample_text_gives_exactly_its_selectors():
    found = [(f.kind, f.value, SAMPLE[f.start : f.end]) for f in scan_text(SAMPLE)]
    assert found == [
        ("xmpp", "vendor@jabber.ccc.de", "Vendor@jabber.ccc.de"),
        ("email", "shop@example.org", "shop@example.org"),
        ("telegram", "green_shop24", "green_shop24"),
        ("btc_address", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        (
            "btc_address",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ),
        (
            "eth_address",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        ),
        (
            "onion",
            "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion",
            "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion",
        ),
        ("phone", "+4915112345678", "+49 151 12345678"),
        ("xmr_address", SAMPLE.split("XMR ")[1].split()[0], SAMPLE.split("XMR ")[1].split()[0]),
        ("wickr", "green.shop", "green.shop"),
        ("session_id", "05" + "ab" * 32, "05" + "ab" * 32),
    ]


def test_pgp_block_becomes_its_fingerprint():
    key = make_public_key(b"vendor-9", "Vendor Nine", datetime(2022, 1, 1, tzinfo=UTC))
    text = f"My key:\n{key.armored}\nthanks"
    (found,) = scan_text(text)
    assert (found.kind, found.value) == ("pgp_fingerprint", key.fingerprint)
    assert text[found.start : found.end].startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    broken = text.replace(key.armored.splitlines()[3], "AAAA" * 16)
    assert all(f.kind != "pgp_fingerprint" for f in scan_text(broken))


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_never_crashes_and_offsets_are_valid(text):
    for found in scan_text(text):
        assert 0 <= found.start < found.end <= len(text)


noise = st.text(alphabet=" .,;:!?()\n-_" + "éü€", max_size=40)
words = st.lists(
    st.sampled_from(["price", "ship", "EU", "5g", "fast", "стелс", "только"]), max_size=6
)
planted = st.one_of(
    st.binary(min_size=32, max_size=32).map(onion_address_from_key),
    st.sampled_from(
        [
            "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        ]
    ),
)


@given(noise, words, planted, noise)
def test_planted_valid_selectors_are_found_exactly(before, filler, value, after):
    text = before + " ".join(filler) + " " + value + " " + after
    start = len(before + " ".join(filler) + " ")
    assert any(f.start == start and f.end == start + len(value) for f in scan_text(text)), text


def test_scan_cli_json_contract(tmp_path, capsys):
    path = tmp_path / "page.txt"
    path.write_text(SAMPLE, encoding="utf-8")
    assert main(["selectors", "scan", str(path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 11
    assert all(set(r) == {"kind", "value", "start", "end"} for r in rows)
    assert main(["selectors", "scan", str(tmp_path / "missing.txt")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
