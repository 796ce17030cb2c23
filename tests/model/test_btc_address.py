"""Bitcoin address validation against Bitcoin Core's key_io vectors (../shared/data)."""

from __future__ import annotations

import json

import pytest

from spector.errors import SelectorInvalid
from spector.model import decode_btc_address, selector_kind

BTC = selector_kind("btc_address")
# Core names the chains main/test/testnet4/signet/regtest; addresses can only tell
# main, "test" (testnet, testnet4 and signet share prefixes) and regtest apart —
# except base58, where regtest shares testnet's version bytes too.
_NETWORK = {"main": "main", "test": "test", "testnet4": "test", "signet": "test"}


def _vectors(shared_data, name):
    return json.loads((shared_data / "bitcoin" / name).read_text())


def test_every_valid_address_decodes_to_its_script(shared_data):
    entries = [e for e in _vectors(shared_data, "key_io_valid.json") if not e[2]["isPrivkey"]]
    assert len(entries) == 54
    for text, script_hex, meta in entries:
        decoded = decode_btc_address(text)
        assert decoded.script_pubkey.hex() == script_hex, text
        chain = meta["chain"]
        expected = _NETWORK.get(chain, "regtest" if text.lower().startswith("bcrt1") else "test")
        assert decoded.network == expected, text
        assert BTC.validate(text)
        if meta.get("tryCaseFlip"):
            flipped = text.swapcase()
            assert decode_btc_address(flipped).address == text.lower()


def test_every_invalid_address_is_rejected(shared_data):
    entries = _vectors(shared_data, "key_io_invalid.json")
    assert len(entries) == 79
    for (text,) in entries:
        assert not BTC.validate(text), text
        with pytest.raises(SelectorInvalid):
            BTC.normalise(text)


def test_private_keys_are_not_addresses(shared_data):
    keys = [e[0] for e in _vectors(shared_data, "key_io_valid.json") if e[2]["isPrivkey"]]
    assert len(keys) == 16
    assert not any(BTC.validate(k) for k in keys)


def test_reasons_name_the_fault():
    with pytest.raises(SelectorInvalid, match="checksum"):
        BTC.normalise("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3")
    with pytest.raises(SelectorInvalid, match="mixes upper and lower"):
        BTC.normalise("bc1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4")


def test_bech32_normalises_to_lower_case():
    upper = "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"
    assert BTC.normalise(upper) == upper.lower()
    assert BTC.compare(upper, upper.lower()) == 1.0
