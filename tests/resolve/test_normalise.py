"""Handle normalisation: the confusables table, NFKC, l33t, digits, affixes."""

from __future__ import annotations

import pytest

from spector.resolve._normalise import handle_keys, normalise_handle, normalise_text, skeleton


def test_cyrillic_a_is_latin_a_by_the_table() -> None:
    cyrillic = "North\u0421t\u0430r"  # Cyrillic С and а
    assert cyrillic != "NorthCtar"
    assert skeleton("\u0430") == "a"
    assert normalise_handle(cyrillic) == normalise_handle("NorthCtar")


def test_the_table_is_the_unicode_data_not_a_hand_list() -> None:
    # Greek omicron, Armenian o (U+0585), mathematical bold a, script small l: all in UTS #39
    assert skeleton("\u03bf\u0585") == "oo"
    assert skeleton("\U0001d41a") == "a"
    assert skeleton("\u2113") == "l"
    # a capital's prototype is looked up before casefolding (Greek capital Nu is N, not v)
    assert normalise_handle("\u039dorthStar") == "northstar"


def test_fullwidth_and_case() -> None:
    assert normalise_handle("ＮＯＲＴＨSTAR") == normalise_handle("northstar") == "northstar"


@pytest.mark.parametrize(
    ("variant", "base"),
    [
        ("N0rthSt4r", "NorthStar"),
        ("n0rth5t@r", "NorthStar"),
        ("$hadow7ech", "shadowtech"),
        ("lyd0c3j0", "lydocejo"),  # a l33t name keeps its last digit as a letter
        ("lydocejo42", "lydocejo"),  # a number added to a taken name is dropped
        ("lydocejo_7", "lydocejo"),
        ("M1ll", "MiII"),  # 1, l and I read alike
    ],
)
def test_leet_and_digits(variant: str, base: str) -> None:
    assert normalise_handle(variant) == normalise_handle(base)


@pytest.mark.parametrize(
    ("variant", "base"),
    [
        ("NorthStar_shop", "NorthStar"),
        ("northstar-official", "NorthStar"),
        ("NorthStarUK", "NorthStar"),
        ("northstar.eu", "NorthStar"),
        ("TheNorthStar", "NorthStar"),
        ("real_northstar", "NorthStar"),
        ("MrNorthStar", "NorthStar"),
        ("northstar_labs", "NorthStar"),
        ("northstar team", "NorthStar"),
    ],
)
def test_affixes(variant: str, base: str) -> None:
    assert normalise_handle(variant) == normalise_handle(base) == "northstar"


def test_affixes_keep_a_core() -> None:
    # "markus" is not "mark" + "us", "shop" alone stays, "theo" is not "the" + "o"
    assert normalise_handle("markus") == "markus"
    assert normalise_handle("shop") == "shop"
    assert normalise_handle("theo") == "theo"


def test_ambiguous_trailing_digits_give_both_keys() -> None:
    assert handle_keys("xa54") == ("xa", "xasa")
    assert handle_keys("NorthStar") == ("northstar",)


def test_degenerate_handles() -> None:
    assert normalise_handle("") == ""
    assert normalise_handle("!!!") == ""
    assert normalise_handle("a") == "a"
    assert normalise_handle("1") == ""  # a lone number is no name


def test_texts() -> None:
    assert normalise_text(None) == ""
    assert normalise_text("  Welcome\n\tto  Nоrth ") == "welcome to north"
