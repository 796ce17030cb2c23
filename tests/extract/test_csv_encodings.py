"""Encodings found when the mapping gives none: CR-only files read as Mac OS Roman or
cp1252 as their letters say (a close call says so), the commoner code page among
answers that read alike, and a header that does not match says which encoding would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spector.cli import main
from spector.errors import InputError
from spector.extract._csv import import_csv
from spector.extract._encoding import detect, misplaced
from spector.extract._mapping import parse_mapping

NOW = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
MAPPING = {
    "source": {"market": "Test"},
    "listing": {"ref": "id", "vendor": "seller", "title": "name"},
}

GERMAN = "id,seller,name\r1,Jäger,Grüne Blüten 5g\r2,Müller,Weiße Witwe\r3,Jäger,Größe L Öl\r"
FRENCH = "id,seller,name\r1,Élodie,Très belle qualité\r2,vendeur,Crème brûlée façon maison\r"
SPANISH = "id,seller,name\r1,Señor,Marihuana de España más rápido\r"
QUOTES = "id,seller,name\r1,bob,“Best” weed – 5€\r"


def _rows(store):
    return store.con.execute(
        "SELECT l.listing_ref, v.handle, l.title FROM listings l "
        "JOIN vendor_accounts v ON v.id = l.vendor_id ORDER BY 1"
    ).fetchall()


def _expected(text):
    return sorted(tuple(line.split(",", 2)) for line in text.split("\r")[1:] if line)


CASES = [
    (text, codec)
    for text in (GERMAN, FRENCH, SPANISH, QUOTES)
    for codec in ("cp1252", "latin_1", "mac_roman")
    if not (text is QUOTES and codec == "latin_1")  # Latin-1 has no “ ” – €
]


@pytest.mark.parametrize(("text", "codec"), CASES)
def test_cr_only_files_are_read_in_the_code_page_their_letters_fit(
    tmp_path, workspace, text, codec
):
    path = tmp_path / "dump.csv"
    path.write_bytes(text.encode(codec))
    report = import_csv(workspace.store, path, parse_mapping(MAPPING, "m"), now=NOW)
    assert report.line_end == "cr"
    assert report.imported == len(_expected(text))
    assert _rows(workspace.store) == _expected(text)  # no "J‰ger", no "JŠger"
    assert report.encoding == ("mac-roman" if codec == "mac_roman" else "cp1252")
    assert report.encoding_basis.startswith("records end in CR alone")
    assert report.encoding_note is None


def test_the_reviewers_file_keeps_its_umlauts(tmp_path, capsys):
    text = (
        "id,seller,name,from\r1,Jäger,Grüne Blüten,Österreich\r2,Jäger,Haze,Schweiz\r"
        "3,Müller,Weiße Witwe,Österreich\r"
    )
    path = tmp_path / "latin.csv"
    path.write_bytes(text.encode("cp1252"))
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[source]\nmarket = "M"\n[listing]\nref = "id"\nvendor = "seller"\ntitle = "name"\n',
        encoding="utf-8",
    )
    ws = str(tmp_path / "ws")
    main(["init", ws])
    capsys.readouterr()
    assert main(["import", "csv", str(path), "--mapping", str(mapping), "-w", ws]) == 0
    out = capsys.readouterr().out
    assert "from latin.csv: 2 vendors, 3 listings" in out
    assert (
        "cp1252 (records end in CR alone, but the letters read as cp1252: 0 of 8 non-ASCII "
        "characters misplaced, 6 as Mac OS Roman)"  # ä ä ü ü ü ß; not Ö at a word start
    ) in out


def test_a_close_call_keeps_mac_roman_and_says_what_to_set(tmp_path, workspace, capsys):
    # one "ö": Mac OS Roman reads "Schön", cp1252 "Schšn"; both are letters in a word
    path = tmp_path / "mac.csv"
    path.write_bytes("id,seller,name\r1,Schön,Kush\r".encode("mac_roman"))
    report = import_csv(workspace.store, path, parse_mapping(MAPPING, "m"), now=NOW)
    assert (report.encoding, report.encoding_basis) == (
        "mac-roman",
        "records end in CR alone (Excel for Mac)",
    )
    assert report.encoding_note == (
        "the file reads about as well as cp1252 ('Schön' as mac_roman, 'Schšn' as cp1252): "
        'check the text, and set [source] encoding = "mac_roman" or "cp1252" in the mapping'
    )
    assert report.as_dict()["encoding_note"] == report.encoding_note
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[source]\nmarket = "M"\n[listing]\nref = "id"\nvendor = "seller"\ntitle = "name"\n',
        encoding="utf-8",
    )
    ws = str(tmp_path / "ws2")
    main(["init", ws])
    capsys.readouterr()
    assert main(["import", "csv", str(path), "--mapping", str(mapping), "-w", ws]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"  encoding: {report.encoding_note}"


def test_a_tie_without_a_clue_is_a_close_call_too():
    # lower-case words in curly quotes: "ìbestî" (Mac OS Roman) is letters in words too
    found = detect("id,seller,name\r1,bob,“best” weed\r".encode("cp1252"))
    assert found is not None
    assert (found.codec, found.note is not None) == ("mac_roman", True)
    assert "('ìbestî' as mac_roman, '“best”' as cp1252)" in (found.note or "")


@pytest.mark.parametrize(
    ("text", "codec", "count"),
    [
        ("Jäger Grüne Blüten Weiße", "cp1252", 0),
        ("J‰ger Gr¸ne Bl¸ten Weiﬂe", "mac_roman", 4),  # cp1252 read as Mac OS Roman
        ("JŠger GrŸne BlŸten Wei§e", "cp1252", 4),  # Mac OS Roman read as cp1252
        ("“Best” – don’t 5€ ÉLODIE", "cp1252", 0),  # quotes, dash, apostrophe, capitals
        ("ìBestî ñ donít 5Ä", "mac_roman", 1),  # the same read as Mac OS Roman: "ìB"
        ("ctrl\x85code", "latin_1", 1),
        ("Schˆn Kˆln", "mac_roman", 2),  # "ö" in cp1252 read as Mac OS Roman: a modifier
    ],
)
def test_misplaced_characters_are_counted(text, codec, count):
    odd, seen = misplaced(text)
    assert (odd, seen) == (count, sum(not c.isascii() for c in text))


def test_the_commoner_code_page_wins_when_both_read_the_text_the_same(tmp_path, workspace):
    # charset-normalizer names cp1250 for this German text (it reads the same in cp1252)
    rows = [
        ("Jäger", "Grüne Blüten 5g"),
        ("Müller", "Weiße Witwe"),
        ("Bäcker", "Haze Größe L"),
        ("Schön", "Kräuter für Anfänger"),
    ]
    text = "id,seller,name\n" + "".join(f"{i},{a},{b}\n" for i, (a, b) in enumerate(rows))
    path = tmp_path / "german.csv"
    path.write_bytes(text.encode("cp1252"))
    report = import_csv(workspace.store, path, parse_mapping(MAPPING, "m"), now=NOW)
    assert (report.encoding, report.encoding_basis) == ("cp1252", "charset-normalizer")
    assert [r[1:] for r in _rows(workspace.store)] == rows


def test_a_commoner_code_page_that_reads_otherwise_is_not_taken():
    # Czech in cp1250: cp1252 decodes the bytes too, but into other letters ("è" for "č")
    text = "id,seller,name\n" + "".join(
        f"{i},prodejce{i},Čerstvé zboží, rychlé doručení, účinné a levné č. {i}\n"
        for i in range(30)
    )
    found = detect(text.encode("cp1250"))
    assert found is not None
    assert text.encode("cp1250").decode(found.codec) == text


def test_a_header_in_another_encoding_names_the_one_that_fits(tmp_path, workspace):
    path = tmp_path / "haendler.csv"
    path.write_bytes("id,Händler,name\r1,Jäger,Kush\r".encode("cp1252"))
    raw = {**MAPPING, "source": {"market": "M", "encoding": "mac_roman"}}
    raw["listing"] = {**MAPPING["listing"], "vendor": "Händler"}
    with pytest.raises(InputError) as caught:
        import_csv(workspace.store, path, parse_mapping(raw, "m"), now=NOW)
    assert caught.value.what == (
        "the header lacks 'Händler', which the mapping names (closest to 'Händler': 'H‰ndler')"
    )
    assert caught.value.hint == (
        "the file was read as mac-roman (mapping), but its header has these names in cp1252: "
        'set [source] encoding = "cp1252" in the mapping'
    )


def test_a_garbled_header_no_code_page_explains_asks_for_the_encoding(tmp_path, workspace):
    path = tmp_path / "other.csv"
    path.write_bytes("id,Verkäufer,name\n1,Jäger,Kush\n".encode("cp1252"))
    raw = {**MAPPING, "listing": {**MAPPING["listing"], "vendor": "Händler"}}
    with pytest.raises(InputError) as caught:
        import_csv(workspace.store, path, parse_mapping(raw, "m"), now=NOW)
    assert caught.value.hint == (
        "the file was read as cp1252 (charset-normalizer); if the header's names look "
        "garbled, set [source] encoding in the mapping to the file's encoding (e.g. "
        'encoding = "cp1252" or "mac_roman")'
    )
    ascii_only = tmp_path / "ascii.csv"
    ascii_only.write_text("id,vendor,name\n1,ann,A\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        import_csv(workspace.store, ascii_only, parse_mapping(MAPPING, "m"), now=NOW)
    assert caught.value.hint is None  # nothing to do with encodings
