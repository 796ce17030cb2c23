"""Every selector kind: known-good and known-bad values, and properties."""

from __future__ import annotations

import pytest
from bip_utils import Kekkak256
from hypothesis import given
from hypothesis import strategies as st

from spector.errors import SelectorInvalid, UsageError
from spector.model import (
    all_selector_kinds,
    onion_address_from_key,
    onion_public_key,
    selector_kind,
)

# (kind, raw, normalised): real public values where they exist.
VALID = [
    (
        "onion",
        "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion",
        "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion",
    ),
    (
        "onion",
        "http://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion/index.html",
        "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion",
    ),
    (
        "onion",
        "DUCKDUCKGOGG42XJOC72X3SJASOWOARFBGCMVFIMAFTT6TWAGSWZCZAD",
        "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion",
    ),
    # v2 onions of real, long-gone services (historical kind)
    ("onion_v2", "3g2upl4pq6kufc4m.onion", "3g2upl4pq6kufc4m.onion"),
    ("onion_v2", "http://www.SILKROADVB5PIZ3R.onion:80/index.php", "silkroadvb5piz3r.onion"),
    ("onion_v2", "pwoah7foa6au2pul", "pwoah7foa6au2pul.onion"),
    # EIP-55's own test vectors
    (
        "eth_address",
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    ),
    (
        "eth_address",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    ),
    (
        "eth_address",
        "0xDBF03B407C01E7CD3CBEA99509D93F8DDDC8C6FB",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    ),
    # The Monero general fund's published donation address
    (
        "xmr_address",
        "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A",
        "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A",
    ),
    (
        "pgp_fingerprint",
        "0x1234 5678 9ABC DEF0 1234  5678 9abc def0 1234 5678",
        "123456789ABCDEF0123456789ABCDEF012345678",
    ),
    ("email", "Vendor.Name@Example.ORG", "vendor.name@example.org"),
    ("email", "shop@" + "a" * 56 + ".onion", "shop@" + "a" * 56 + ".onion"),
    ("xmpp", "Vendor@Jabber.CCC.de/Mobile", "vendor@jabber.ccc.de"),
    ("telegram", "@Green_Shop24", "green_shop24"),
    ("telegram", "https://t.me/green_shop24", "green_shop24"),
    ("wickr", "Green.Shop", "green.shop"),
    ("session_id", "05" + "AB" * 32, "05" + "ab" * 32),
    ("phone", "+49 151 12345678", "+4915112345678"),
    ("phone", "+1 (202) 555-0143", "+12025550143"),
]

INVALID = [
    ("onion", "duckduckgogg42yjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion", "checksum"),
    ("onion", "3g2upl4pq6kufc4m.onion", "v2"),
    ("onion", "not-an-onion.com", "base32"),
    ("onion_v2", "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion", "v3"),
    ("onion_v2", "4yjes6zfucnh7vc1.onion", "base32"),
    ("onion_v2", "4yjes6zfucnh7vcj.example.com", "16 base32"),
    ("eth_address", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "EIP-55"),
    ("eth_address", "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "0x"),
    ("eth_address", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea", "40"),
    (
        "xmr_address",
        "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3B",
        "checksum",
    ),
    ("xmr_address", "44AFFq5kSiGBoZ4NMDwY", "characters"),
    ("pgp_fingerprint", "9ABCDEF012345678", "key id"),
    ("pgp_fingerprint", "XYZ", "hexadecimal"),
    ("email", "no-at-sign.example.org", "@"),
    ("email", "a@b@", "invalid characters"),
    ("xmpp", "@jabber.org", "local@domain"),
    ("xmpp", "a b@jabber.org", "forbids"),
    ("telegram", "@abc", "5-32"),
    ("telegram", "@1abcdef", "starting with a letter"),
    ("wickr", "ab", "3-32"),
    ("session_id", "06" + "ab" * 32, "05"),
    ("phone", "0151 12345678", "international"),
    ("phone", "+1 555 0000", "valid"),
]


@pytest.mark.parametrize(("kind", "raw", "normalised"), VALID)
def test_valid_values_normalise(kind, raw, normalised):
    k = selector_kind(kind)
    assert k.normalise(raw) == normalised
    assert k.validate(raw)
    assert k.compare(raw, normalised) == 1.0


@pytest.mark.parametrize(("kind", "raw", "reason"), INVALID)
def test_invalid_values_name_their_fault(kind, raw, reason):
    k = selector_kind(kind)
    assert not k.validate(raw)
    with pytest.raises(SelectorInvalid, match=reason):
        k.normalise(raw)


def test_registry_holds_every_kind_the_vocabulary_names():
    names = {k.name for k in all_selector_kinds()}
    assert names == {
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
    }
    with pytest.raises(UsageError, match="unknown selector kind"):
        selector_kind("fax")


def test_different_values_compare_zero():
    k = selector_kind("telegram")
    assert k.compare("@green_shop24", "@green_shop25") == 0.0
    assert k.compare("@green_shop24", "nonsense!") == 0.0


@given(st.sampled_from(all_selector_kinds()), st.text(max_size=120))
def test_normalise_is_idempotent_or_refuses(kind, text):
    try:
        once = kind.normalise(text)
    except SelectorInvalid:
        return
    assert kind.normalise(once) == once


@given(st.sampled_from(VALID))
def test_normalise_is_idempotent_on_valid_values(case):
    kind, raw, _ = case
    k = selector_kind(kind)
    assert k.normalise(k.normalise(raw)) == k.normalise(raw)


@given(st.binary(min_size=32, max_size=32))
def test_onion_round_trips_any_key(key):
    host = onion_address_from_key(key)
    assert len(host) == 62
    assert onion_public_key(host) == key
    assert selector_kind("onion").normalise(host.upper()) == host


@given(st.binary(min_size=20, max_size=20))
def test_eth_checksum_catches_a_flipped_case(raw):
    k = selector_kind("eth_address")
    canonical = k.normalise("0x" + raw.hex())
    letters = [i for i, c in enumerate(canonical) if i > 1 and c.isalpha()]
    if not letters:
        return
    i = letters[0]
    flipped = canonical[:i] + canonical[i].swapcase() + canonical[i + 1 :]
    # a one-letter case flip keeps the mixed case only if other letters exist
    if flipped[2:] not in (flipped[2:].lower(), flipped[2:].upper()):
        assert not k.validate(flipped)


def test_xmr_checksum_is_keccak():
    # Build an address from parts: proves the checksum rule, not just one vector.
    from bip_utils import Base58XmrEncoder

    body = bytes([18]) + bytes(range(64))
    address = Base58XmrEncoder.Encode(body + bytes(Kekkak256.QuickDigest(body))[:4])
    assert selector_kind("xmr_address").normalise(address) == address
    bad = Base58XmrEncoder.Encode(body + b"\0\0\0\0")
    assert not selector_kind("xmr_address").validate(bad)


def test_only_v2_onions_are_historical_and_say_why():
    historical = {k.name: k.note for k in all_selector_kinds() if k.historical}
    assert list(historical) == ["onion_v2"]
    assert "2021" in historical["onion_v2"]
    assert not selector_kind("onion").historical


def test_kinds_command_marks_historical_kinds(capsys):
    import json

    from spector.cli import main

    assert main(["selectors", "kinds", "--json"]) == 0
    rows = {r["kind"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["onion_v2"]["historical"] is True
    assert rows["onion"]["historical"] is False
    assert main(["selectors", "kinds"]) == 0
    table = capsys.readouterr().out
    line = next(x for x in table.splitlines() if "onion_v2" in x)
    assert "historical" in line
    assert (
        main(["selectors", "check", "onion_v2", "http://4YJES6ZFUCNH7VCJ.onion/x", "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["value"] == "4yjes6zfucnh7vcj.onion"


@given(st.binary(min_size=32, max_size=32))
def test_a_v3_onion_is_never_a_v2_one(key):
    host = onion_address_from_key(key)
    assert not selector_kind("onion_v2").validate(host)
