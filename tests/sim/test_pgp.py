"""Deterministic OpenPGP keys: real certificates, checked by Sequoia and GnuPG."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pysequoia
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pysequoia.packet import PacketPile, Tag

from spector.sim._pgp import (
    PgpKey,
    _primary_private_key,
    _subkey_private_key,
    make_public_key,
)

CREATED = datetime(2023, 5, 1, 12, 0, tzinfo=UTC)
SECRET = b"range-7/vendor-42"
USER_ID = "NightOwl <nightowl@protonmail.com>"

# Pinned output for SECRET / USER_ID / CREATED: a range must stay byte-identical across
# versions of Spector, so any change here is a breaking change to every generated range.
PINNED_FINGERPRINT = "D4FD329B666A996813C169F45F35A7D3049F4FDF"
PINNED_ARMOR_SHA256 = "70f77a4097372fb5ecdaa80053716bd3e937216fb52bca57f33e94271ca0aff6"


@pytest.fixture(scope="module")
def key() -> PgpKey:
    return make_public_key(SECRET, USER_ID, CREATED)


def _dearmor(armored: str) -> tuple[bytes, str]:
    """The binary certificate and the checksum line, read without any OpenPGP library."""
    lines = armored.splitlines()
    assert lines[0] == "-----BEGIN PGP PUBLIC KEY BLOCK-----"
    assert lines[-1] == "-----END PGP PUBLIC KEY BLOCK-----"
    blank = lines.index("")
    body = lines[blank + 1 : -1]
    assert body[-1].startswith("=")
    return base64.b64decode("".join(body[:-1]), validate=True), body[-1]


def _crc24(data: bytes) -> int:
    """CRC-24/OPENPGP as a shift register fed one message bit at a time (no reflection)."""
    poly = 0x864CFB  # the generator 0x1864CFB of RFC 4880 §6.1 without its x^24 term
    reg = 0xB704CE
    for byte in data:
        for bit in range(7, -1, -1):
            top = ((reg >> 23) & 1) ^ ((byte >> bit) & 1)
            reg = (reg << 1) & 0xFFFFFF
            if top:
                reg ^= poly
    return reg


def _flip_in_last_mpi(packets: list[bytes], index: int) -> bytes:
    """The certificate with one byte of the signature at ``index`` flipped (in its s MPI)."""
    changed = [bytearray(p) for p in packets]
    changed[index][-10] ^= 0x01
    return b"".join(bytes(p) for p in changed)


def _packets(armored: str) -> list[bytes]:
    return [bytes(p) for p in PacketPile.from_bytes(armored.encode())]


# --- Sequoia ---------------------------------------------------------------------------------


def test_sequoia_parses_with_our_fingerprint_and_user_id(key: PgpKey) -> None:
    cert = pysequoia.Cert.from_bytes(key.armored.encode())
    assert cert.fingerprint.upper() == key.fingerprint
    assert [str(u) for u in cert.user_ids] == [USER_ID]
    assert key.user_id == USER_ID


def test_fingerprint_and_key_id_shape(key: PgpKey) -> None:
    assert len(key.fingerprint) == 40
    assert key.fingerprint == key.fingerprint.upper()
    int(key.fingerprint, 16)
    assert key.key_id == key.fingerprint[-16:]
    primary = next(iter(PacketPile.from_bytes(key.armored.encode())))
    assert primary.key_id is not None
    assert primary.key_id.upper() == key.key_id


def test_packets_are_what_we_promise(key: PgpKey) -> None:
    packets = list(PacketPile.from_bytes(key.armored.encode()))
    assert [p.tag for p in packets] == [
        Tag.PublicKey,
        Tag.UserID,
        Tag.Signature,
        Tag.PublicSubkey,
        Tag.Signature,
    ]
    primary, uid, cert_sig, subkey, binding = packets
    assert primary.key_algorithm == pysequoia.packet.PublicKeyAlgorithm.EdDSA
    assert primary.key_created == CREATED
    assert uid.user_id == USER_ID
    assert cert_sig.signature_version == 4
    assert cert_sig.signature_type == pysequoia.packet.SignatureType.PositiveCertification
    assert cert_sig.hash_algorithm == pysequoia.packet.HashAlgorithm.SHA256
    assert cert_sig.signature_created == CREATED
    assert cert_sig.issuer_fingerprint is not None
    assert cert_sig.issuer_fingerprint.upper() == key.fingerprint
    assert cert_sig.issuer_key_id is not None
    assert cert_sig.issuer_key_id.upper() == key.key_id
    flags = cert_sig.key_flags
    assert flags is not None
    assert flags.certification
    assert flags.signing
    assert not flags.transport_encryption
    assert subkey.key_algorithm == pysequoia.packet.PublicKeyAlgorithm.ECDH
    assert subkey.key_created == CREATED
    assert binding.signature_type == pysequoia.packet.SignatureType.SubkeyBinding
    sub_flags = binding.key_flags
    assert sub_flags is not None
    assert sub_flags.transport_encryption
    assert sub_flags.storage_encryption
    assert not sub_flags.signing


def test_sequoia_rejects_a_flipped_certification_byte(key: PgpKey) -> None:
    packets = _packets(key.armored)
    # Unchanged, the User ID is bound; with one bit of the self-signature changed, Sequoia
    # finds no valid binding signature and will not hand out the User ID.
    assert [str(u) for u in pysequoia.Cert.from_bytes(b"".join(packets)).user_ids] == [USER_ID]
    broken = pysequoia.Cert.from_bytes(_flip_in_last_mpi(packets, 2))
    with pytest.raises(RuntimeError, match="No binding signature"):
        _ = broken.user_ids


def test_sequoia_encrypts_to_the_subkey_only_with_a_valid_binding(key: PgpKey) -> None:
    packets = _packets(key.armored)
    good = pysequoia.Cert.from_bytes(b"".join(packets))
    assert pysequoia.encrypt(b"order #1", recipients=[good]).startswith(b"-----BEGIN PGP MESSAGE")
    broken = pysequoia.Cert.from_bytes(_flip_in_last_mpi(packets, 4))
    with pytest.raises(RuntimeError, match="No suitable encryption subkey"):
        pysequoia.encrypt(b"order #1", recipients=[broken])


def _secret_key_body(public_body: bytes, secret_be: bytes) -> bytes:
    """A v4 unencrypted secret-key body: the public body, S2K usage 0, MPI, checksum."""
    stripped = secret_be.lstrip(b"\x00")
    mpi = int.from_bytes(stripped, "big").bit_length().to_bytes(2, "big") + stripped
    return public_body + b"\x00" + mpi + (sum(mpi) % 65536).to_bytes(2, "big")


def _new_packet(tag: int, body: bytes) -> bytes:
    assert len(body) < 192
    return bytes([0xC0 | tag, len(body)]) + body


def _tsk(key: PgpKey, secret: bytes) -> pysequoia.Tsk:
    """The secret counterpart of ``key``, rebuilt from the secret the module derives from."""
    primary, uid, cert_sig, subkey, binding = PacketPile.from_bytes(key.armored.encode())
    seed = _primary_private_key(secret).private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    scalar = _subkey_private_key(secret).private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    data = b"".join(
        [
            _new_packet(5, _secret_key_body(primary.body, seed)),
            bytes(uid),
            bytes(cert_sig),
            # Curve25519 secrets are stored big-endian in OpenPGP: reverse the native order.
            _new_packet(7, _secret_key_body(subkey.body, scalar[::-1])),
            bytes(binding),
        ]
    )
    return pysequoia.Tsk.from_bytes(data)


def test_derived_secrets_match_the_published_keys(key: PgpKey) -> None:
    """Sign with the derived Ed25519 key and decrypt with the derived X25519 key."""
    tsk = _tsk(key, SECRET)
    cert = pysequoia.Cert.from_bytes(key.armored.encode())
    assert tsk.extract_certificate().fingerprint == cert.fingerprint

    signed = pysequoia.sign(tsk.signer(), b"escrow released")
    verified = pysequoia.verify(signed, store=lambda _ids: [cert])
    assert verified.bytes == b"escrow released"
    assert len(verified.valid_sigs) == 1

    message = pysequoia.encrypt(b"ship to PO box 9", recipients=[cert])
    assert pysequoia.decrypt(message, decryptor=tsk.decryptor()).bytes == b"ship to PO box 9"

    other = _tsk(make_public_key(b"someone else", USER_ID, CREATED), b"someone else")
    with pytest.raises(RuntimeError):
        pysequoia.decrypt(message, decryptor=other.decryptor())


# --- GnuPG -----------------------------------------------------------------------------------


def _gpg(home: Path, *args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    gpg = shutil.which("gpg")
    assert gpg is not None
    env = {**os.environ, "GNUPGHOME": str(home), "LC_ALL": "C"}
    return subprocess.run(
        # no agent: public keys need none, and a daemon would outlive the test run
        [gpg, "--batch", "--no-tty", "--no-autostart", "--with-colons", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(shutil.which("gpg") is None, reason="GnuPG (gpg) is not installed")
def test_gnupg_imports_with_our_fingerprint_and_good_signatures(
    key: PgpKey, tmp_path: Path
) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    shown = _gpg(home, "--import-options", "show-only", "--import", stdin=key.armored.encode())
    assert shown.returncode == 0, shown.stderr.decode()
    rows = [line.split(":") for line in shown.stdout.decode().splitlines()]
    fprs = [row[9] for row in rows if row[0] == "fpr"]
    assert fprs[0] == key.fingerprint
    assert len(fprs) == 2  # primary and encryption subkey
    pub = next(row for row in rows if row[0] == "pub")
    assert pub[4] == key.key_id
    assert pub[5] == str(int(CREATED.timestamp()))
    assert pub[16] == "ed25519"
    assert next(row for row in rows if row[0] == "sub")[16] == "cv25519"
    assert next(row for row in rows if row[0] == "uid")[9] == USER_ID

    imported = _gpg(home, "--import", stdin=key.armored.encode())
    assert imported.returncode == 0, imported.stderr.decode()
    checked = _gpg(home, "--check-sigs", key.fingerprint, stdin=b"")
    assert checked.returncode == 0, checked.stderr.decode()
    sigs = [line.split(":") for line in checked.stdout.decode().splitlines()]
    validity = [row[1] for row in sigs if row[0] == "sig"]
    assert validity == ["!", "!"]  # both self-signatures verify


@pytest.mark.skipif(shutil.which("gpg") is None, reason="GnuPG (gpg) is not installed")
def test_gnupg_rejects_a_wrong_armor_checksum(key: PgpKey, tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    _, crc_line = _dearmor(key.armored)
    crc = int.from_bytes(base64.b64decode(crc_line[1:]), "big")
    wrong = "=" + base64.b64encode((crc ^ 1).to_bytes(3, "big")).decode()
    shown = _gpg(
        home,
        "--import-options",
        "show-only",
        "--import",
        stdin=key.armored.replace(crc_line, wrong).encode(),
    )
    assert b"CRC error" in shown.stderr


# --- armor -----------------------------------------------------------------------------------


def test_crc24_line_is_correct(key: PgpKey) -> None:
    assert _crc24(b"123456789") == 0x21CF02  # the published check value of CRC-24/OPENPGP
    binary, crc_line = _dearmor(key.armored)
    assert crc_line == "=" + base64.b64encode(_crc24(binary).to_bytes(3, "big")).decode()
    assert binary == bytes(pysequoia.Cert.from_bytes(key.armored.encode()))


def test_armor_matches_sequoias(key: PgpKey) -> None:
    binary, _ = _dearmor(key.armored)
    assert key.armored == pysequoia.armor(binary, pysequoia.ArmorKind.PublicKey)
    assert all(len(line) <= 76 for line in key.armored.splitlines())
    assert key.armored.endswith("-----END PGP PUBLIC KEY BLOCK-----\n")


def test_fingerprint_is_sha1_of_the_key_packet(key: PgpKey) -> None:
    primary = next(iter(PacketPile.from_bytes(key.armored.encode())))
    body = primary.body
    digest = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body, usedforsecurity=False)
    assert digest.hexdigest().upper() == key.fingerprint


# --- determinism -----------------------------------------------------------------------------


def test_same_inputs_give_identical_text() -> None:
    first = make_public_key(SECRET, USER_ID, CREATED)
    second = make_public_key(bytes(SECRET), str(USER_ID), CREATED.astimezone(UTC))
    assert first == second
    assert first.armored == second.armored


def test_output_is_pinned(key: PgpKey) -> None:
    assert key.fingerprint == PINNED_FINGERPRINT
    assert hashlib.sha256(key.armored.encode()).hexdigest() == PINNED_ARMOR_SHA256


def test_different_secrets_give_different_fingerprints() -> None:
    fprs = {
        make_public_key(f"vendor-{i}".encode(), USER_ID, CREATED).fingerprint for i in range(20)
    }
    assert len(fprs) == 20


def test_key_depends_on_secret_and_time_not_on_user_id() -> None:
    a = make_public_key(SECRET, USER_ID, CREATED)
    b = make_public_key(SECRET, "Someone Else <else@example.org>", CREATED)
    c = make_public_key(SECRET, USER_ID, CREATED + timedelta(seconds=1))
    assert a.fingerprint == b.fingerprint
    assert a.armored != b.armored
    assert a.fingerprint != c.fingerprint


def test_other_time_zones_mean_the_same_instant() -> None:
    local = CREATED.astimezone(timezone(timedelta(hours=3)))
    assert make_public_key(SECRET, USER_ID, local) == make_public_key(SECRET, USER_ID, CREATED)


def test_non_ascii_user_id_round_trips() -> None:
    user_id = "Чёрный Кот <kot@example.onion>"
    cert = pysequoia.Cert.from_bytes(make_public_key(SECRET, user_id, CREATED).armored.encode())
    assert [str(u) for u in cert.user_ids] == [user_id]


# --- bad input -------------------------------------------------------------------------------


def test_naive_created_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_public_key(SECRET, USER_ID, datetime(2023, 5, 1, 12, 0))


def test_created_before_1970_is_refused() -> None:
    with pytest.raises(ValueError, match="32-bit"):
        make_public_key(SECRET, USER_ID, datetime(1969, 12, 31, 23, 59, tzinfo=UTC))


def test_empty_user_id_is_refused() -> None:
    with pytest.raises(ValueError, match="user_id"):
        make_public_key(SECRET, "", CREATED)
