"""The canonical form deconfliction hashes: one form per selector, however it was typed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spector.cases._canon import MAX_VALUE_LENGTH, canonical, deconfliction_kinds
from spector.errors import SelectorInvalid, UsageError

ONION = "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion"
# the Monero general fund's published donation address
XMR = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"  # noqa: E501

# (kind, spellings of one selector, its canonical form): real public values where they exist.
SAME = [
    (
        "pgp_fingerprint",
        [
            "0x1234 5678 9ABC DEF0 1234  5678 9abc def0 1234 5678",
            "123456789abcdef0123456789abcdef012345678",
            " 12345678 9ABCDEF0 12345678 9ABCDEF0 12345678\n",
        ],
        "123456789ABCDEF0123456789ABCDEF012345678",
    ),
    (
        # Bitcoin Core's / BIP-173's vector: bech32 is folded to lower case
        "btc_address",
        [
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            " bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 ",
        ],
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    ),
    (
        # base58 is case-sensitive: kept as it is
        "btc_address",
        ["1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "  1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"],
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
    ),
    (
        # EIP-55's vector: checksummed, all lower and all upper are one address, kept lower
        "eth_address",
        [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
            "0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED",
        ],
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
    ),
    ("xmr_address", [XMR, f" {XMR}\t"], XMR),
    (
        "onion",
        [ONION, ONION.upper(), f"http://{ONION}/shop/item?id=3", f"https://www.{ONION}:443/"],
        ONION,
    ),
    ("phone", ["+49 151 12345678", "+49 (0)151-123 456 78", "0049 151 12345678"], "+4915112345678"),
    (
        "email",
        ["Vendor.Name@Example.ORG", " mailto:vendor.name@example.org"],
        "vendor.name@example.org",
    ),
    ("telegram", ["@Green_Shop24", "https://t.me/green_shop24"], "green_shop24"),
    ("xmpp", ["Vendor@Jabber.CCC.de/Mobile", "xmpp:vendor@jabber.ccc.de"], "vendor@jabber.ccc.de"),
    ("wickr", ["Green.Shop", " green.shop "], "green.shop"),
    ("session_id", ["05" + "AB" * 32, "05" + "ab" * 32], "05" + "ab" * 32),
    # handle: NFKC (full-width letters), casefold (German sharp s), @ and spaces stripped
    ("handle", ["@DrGreen", "  drgreen ", "@@ＤｒＧｒｅｅｎ", "DRGREEN\n"], "drgreen"),
    ("handle", ["Straße Boys", "STRASSE   boys", "@strasse boys"], "strasse boys"),
]

INVALID = [
    ("pgp_fingerprint", "0x9ABCDEF012345678", "a key id, not a fingerprint"),
    ("pgp_fingerprint", "9ABCDEF0", "a key id, not a fingerprint"),
    ("pgp_fingerprint", "123456789ABCDEF0123456789ABCDEF01234567G", "not hexadecimal"),
    ("btc_address", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "checksum"),
    ("btc_address", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "checksum"),
    ("btc_address", "Bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "mixes upper and lower"),
    ("eth_address", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "EIP-55"),
    ("onion", ONION.replace("xjoc", "yjoc"), "checksum"),
    ("onion", "3g2upl4pq6kufc4m.onion", "v2"),
    ("phone", "0151 12345678", "no \\+country code"),
    ("phone", "+1 555 0000", "valid"),
    ("email", "no-at-sign.example.org", "@"),
    ("handle", "", "empty"),
    ("handle", "  @@ \t", "empty"),
    ("handle", "dr\u200bgreen", "invisible"),
    ("session_id", "06" + "ab" * 32, "05"),
]


@pytest.mark.parametrize(("kind", "spellings", "expected"), SAME)
def test_every_spelling_of_a_selector_has_one_canonical_form(kind, spellings, expected):
    for raw in spellings:
        assert canonical(kind, raw) == expected, raw
    assert canonical(kind, expected) == expected  # idempotent


@pytest.mark.parametrize(("kind", "raw", "reason"), INVALID)
def test_invalid_selectors_are_refused_with_the_reason(kind, raw, reason):
    with pytest.raises(SelectorInvalid, match=reason) as info:
        canonical(kind, raw)
    assert info.value.exit_code == 2
    assert info.value.kind == kind


def test_a_phone_number_without_country_needs_a_default_region():
    assert canonical("phone", "0151 12345678", region="DE") == "+4915112345678"
    assert canonical("phone", "(202) 555-0143", region="us") == "+12025550143"
    # an explicit +country wins over the default region
    assert canonical("phone", "+44 20 7946 0018", region="DE") == "+442079460018"
    with pytest.raises(SelectorInvalid, match="default region DE"):
        canonical("phone", "0000 1", region="DE")
    with pytest.raises(UsageError, match="unknown phone region 'XX'"):
        canonical("phone", "0151 12345678", region="XX")


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(UsageError, match="unknown selector kind 'pgp_keyid'") as info:
        canonical("pgp_keyid", "9ABCDEF012345678")
    assert "handle" in str(info.value)
    assert "pgp_fingerprint" in str(info.value)


def test_overlong_values_are_refused_before_parsing():
    with pytest.raises(SelectorInvalid, match=f"at most {MAX_VALUE_LENGTH}"):
        canonical("handle", "a" * (MAX_VALUE_LENGTH + 1))


def test_the_kinds_are_the_models_plus_handle():
    assert set(deconfliction_kinds()) == {
        "btc_address",
        "eth_address",
        "xmr_address",
        "pgp_fingerprint",
        "onion",
        "onion_v2",
        "email",
        "xmpp",
        "telegram",
        "wickr",
        "session_id",
        "phone",
        "handle",
    }


@given(st.text(max_size=60))
def test_handle_canonical_form_is_idempotent_or_refused(raw):
    try:
        once = canonical("handle", raw)
    except SelectorInvalid:
        return
    assert once
    assert canonical("handle", once) == once
    assert once == once.strip()
    assert not once.startswith("@")
