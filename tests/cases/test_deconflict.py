"""Deconfliction on one instance: hits, notices for both sides, no leak, noisy values.

Every test runs on SQLite and on PostgreSQL (the ``instance`` fixture): BKA and Politie
share the operation SpecTor, the FBI stays outside it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

import pytest
from sqlalchemy import func, select

from spector.cases._access import get_visible
from spector.cases._audit import AuditEntry
from spector.cases._deconflict import (
    DeconflictionNotice,
    Selector,
    acknowledge,
    add_selector,
    digest,
    instance_key,
    list_selectors,
    notice_text,
    notice_view,
    notices,
    other_notice_id,
)
from spector.cases._records import Case, add_target, open_case
from spector.errors import AccessDenied, NotFound, SelectorInvalid, UsageError

FP = "0x1234 5678 9ABC DEF0 1234  5678 9abc def0 1234 5678"
FP_CANON = "123456789ABCDEF0123456789ABCDEF012345678"
BTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def _case(s, p, title, label, **case):
    """A case of ``p``'s agency with one actor target; (case, target)."""
    c = open_case(s, p, title=title, summary=f"summary of {title}", **case)
    t = add_target(s, p, c.id, kind="actor", ref=f"actor-{secrets.token_hex(6)}", label=label)
    return c, t


def _count(s, model, *criteria):
    return s.scalar(select(func.count()).select_from(model).where(*criteria))


def test_a_hit_between_two_agencies_makes_one_notice_for_each(instance):
    bka, fbi = instance["bka_analyst"], instance["fbi_analyst"]
    with instance.store.session() as s:
        _, t_bka = _case(s, bka, "Greenleaf (BKA)", "Dr Green on Monopoly")
        sel_bka, made = add_selector(s, bka, t_bka.id, "pgp_fingerprint", FP)
        assert made == []
        assert sel_bka.value == FP_CANON
    with instance.store.session() as s:
        _, t_fbi = _case(s, fbi, "Sunflower (FBI)", "GreenDoc on Archetyp")
        sel_fbi, made = add_selector(s, fbi, t_fbi.id, "pgp_fingerprint", FP_CANON.lower())
        assert len(made) == 2
    with instance.store.session() as s:
        [to_bka] = notices(s, bka)
        [to_fbi] = notices(s, fbi)
        assert notices(s, instance["nl_analyst"]) == []
        assert {n.id for n in made} == {to_bka.id, to_fbi.id}
        # each side points at its own selector and at the other's selector and notice
        assert (to_bka.selector_id, to_bka.other_selector_id) == (sel_bka.id, sel_fbi.id)
        assert (to_fbi.selector_id, to_fbi.other_selector_id) == (sel_fbi.id, sel_bka.id)
        assert other_notice_id(s, to_bka) == to_fbi.id
        assert other_notice_id(s, to_fbi) == to_bka.id
        assert notice_view(s, to_bka)["other_notice_id"] == to_fbi.id
        assert to_bka.other_agency_id == instance.agencies["FBI"]
        assert to_fbi.other_agency_id == instance.agencies["BKA"]
        # the contact is the other case's officer
        assert to_bka.contact == "Fbi Analyst <fbi_analyst@fbi.example>"
        assert to_fbi.contact == "Bka Analyst <bka_analyst@bka.example>"
        assert notice_view(s, to_bka)["other_agency"] == "FBI"
        assert "agency BKA (their selector" in notice_text(s, to_fbi)


def test_the_hit_reaches_records_the_user_cannot_read(instance):
    """The FBI reads nothing of BKA's agency-only case, and both still learn of the hit."""
    bka, fbi = instance["bka_analyst"], instance["fbi_analyst"]
    with instance.store.session() as s:
        c_bka, t_bka = _case(s, bka, "Greenleaf (BKA)", "Dr Green")
        sel_bka, _ = add_selector(s, bka, t_bka.id, "btc_address", BTC)
    with instance.store.session() as s:
        for model, rid in ((Selector, sel_bka.id), (Case, c_bka.id)):
            with pytest.raises(NotFound):
                get_visible(s, fbi, model, rid)
        assert list_selectors(s, fbi) == []
        _, t_fbi = _case(s, fbi, "Sunflower (FBI)", "GreenDoc")
        _, made = add_selector(s, fbi, t_fbi.id, "btc_address", BTC.upper())
        assert sorted(n.agency_id for n in made) == sorted(
            [instance.agencies["BKA"], instance.agencies["FBI"]]
        )


def test_a_notice_carries_no_content_of_the_other_case(instance):
    bka, fbi = instance["bka_analyst"], instance["fbi_analyst"]
    secret = {
        "BKA": ("Greenleaf BKA-geheim", "Dr Green BKA-Zielperson"),
        "FBI": ("Sunflower FBI-secret", "GreenDoc FBI-subject"),
    }
    with instance.store.session() as s:
        c_bka, t_bka = _case(s, bka, *secret["BKA"])
        add_selector(s, bka, t_bka.id, "pgp_fingerprint", FP)
        c_fbi, t_fbi = _case(s, fbi, *secret["FBI"])
        add_selector(s, fbi, t_fbi.id, "pgp_fingerprint", FP)
        refs = {"BKA": c_bka.reference, "FBI": c_fbi.reference}
    with instance.store.session() as s:
        for me, other in (("BKA", "FBI"), ("FBI", "BKA")):
            p = bka if me == "BKA" else fbi
            [n] = notices(s, p)
            shown = notice_text(s, n) + json.dumps(notice_view(s, n))
            title, label = secret[other]
            for word in (title, label, f"summary of {title}", *title.split(), *label.split()):
                assert word not in shown, (me, word)
            assert refs[other] not in shown
        # the audit log of the notices holds the digest, never the value
        details = s.scalars(select(AuditEntry.detail).where(AuditEntry.action == "notice"))
        for detail in details:
            assert FP_CANON not in (detail or "")
            assert FP_CANON.lower() not in (detail or "")


def test_one_notice_per_pair_of_agencies_and_value(instance):
    bka, fbi, nl = instance["bka_analyst"], instance["fbi_analyst"], instance["nl_analyst"]
    with instance.store.session() as s:
        _, t1 = _case(s, bka, "BKA 1", "a")
        _, t2 = _case(s, fbi, "FBI 1", "b")
        sel, _ = add_selector(s, bka, t1.id, "pgp_fingerprint", FP)
        _, made = add_selector(s, fbi, t2.id, "pgp_fingerprint", FP)
        assert len(made) == 2
        # the same value again on the same target: the same selector, nothing new
        again, made = add_selector(s, bka, t1.id, "pgp_fingerprint", FP_CANON.lower())
        assert again.id == sel.id
        assert made == []
        # in another BKA case: a new selector, but the BKA-FBI pair has its notices
        _, t3 = _case(s, bka, "BKA 2", "c")
        sel3, made = add_selector(s, bka, t3.id, "pgp_fingerprint", FP)
        assert sel3.id != sel.id
        assert made == []
        # a third agency: a notice with each of the two others, on both sides
        _, t4 = _case(s, nl, "NL 1", "d")
        _, made = add_selector(s, nl, t4.id, "pgp_fingerprint", FP)
        pairs = sorted((n.agency_id, n.other_agency_id) for n in made)
        a = instance.agencies
        assert pairs == sorted(
            [(a["Politie"], a["BKA"]), (a["BKA"], a["Politie"]),
             (a["Politie"], a["FBI"]), (a["FBI"], a["Politie"])]
        )  # fmt: skip
        assert _count(s, DeconflictionNotice) == 6
        assert _count(s, Selector) == 4
        # the agency's own cases never deconflict against each other
        _, t5 = _case(s, nl, "NL 2", "e")
        _, made = add_selector(s, nl, t5.id, "handle", "@LoneWolf")
        _, made2 = add_selector(s, nl, t4.id, "handle", "lonewolf")
        assert made == made2 == []


def test_a_value_held_by_too_many_cases_is_noisy(instance):
    bka, fbi, nl = instance["bka_analyst"], instance["fbi_analyst"], instance["nl_analyst"]
    limit = 3
    with instance.store.session() as s:
        targets = []
        for i, p in enumerate((bka, fbi, nl, bka, fbi)):
            targets.append((p, _case(s, p, f"case {i}", f"target {i}")[1]))
        made_per_add = []
        for p, t in targets:
            sel, made = add_selector(s, p, t.id, "btc_address", BTC, correlation_limit=limit)
            made_per_add.append(len(made))
        # 3 cases: notices (BKA-FBI, then NL with both); the 4th case goes over the limit
        assert made_per_add == [0, 2, 4, 0, 0]
        flags = s.scalars(select(Selector.noisy).order_by(Selector.id)).all()
        assert flags == [True] * 5
        assert sel.noisy
        assert _count(s, AuditEntry, AuditEntry.action == "noisy") == 1
        assert _count(s, AuditEntry, AuditEntry.action == "notice") == 2  # one per add
        # a digest under the limit is not noisy
        _, made = add_selector(s, fbi, targets[1][1].id, "handle", "quiet", correlation_limit=limit)
        assert _count(s, Selector, Selector.noisy.is_(False)) == 1


def test_an_invalid_selector_writes_nothing(instance):
    bka = instance["bka_analyst"]
    with instance.store.session() as s:
        _, t = _case(s, bka, "BKA 1", "a")
    with instance.store.session() as s:
        audit_before = _count(s, AuditEntry)
    for kind, value, match in (
        ("pgp_fingerprint", "0x9ABCDEF012345678", "key id"),
        ("btc_address", BTC[:-1] + "5", "checksum"),
        ("handle", " @ ", "empty"),
        ("phone", "0151 12345678", "country"),
    ):
        with pytest.raises(SelectorInvalid, match=match), instance.store.session() as s:
            add_selector(s, bka, t.id, kind, value)
    with pytest.raises(UsageError, match="unknown selector kind"), instance.store.session() as s:
        add_selector(s, bka, t.id, "icq", "12345")
    with instance.store.session() as s:
        assert _count(s, Selector) == 0
        assert _count(s, AuditEntry) == audit_before


def test_who_may_add_a_selector(instance):
    bka, fbi = instance["bka_analyst"], instance["fbi_analyst"]
    with instance.store.session() as s:
        _, t_shared = _case(s, bka, "shared", "s", distribution="all")
        _, t_own = _case(s, bka, "own", "o")
    with pytest.raises(AccessDenied, match="another agency"), instance.store.session() as s:
        add_selector(s, fbi, t_shared.id, "handle", "x")  # readable, but not the FBI's
    with pytest.raises(NotFound), instance.store.session() as s:
        add_selector(s, fbi, t_own.id, "handle", "x")  # not even readable
    with pytest.raises(AccessDenied), instance.store.session() as s:
        add_selector(s, instance["bka_viewer"], t_own.id, "handle", "x")
    with instance.store.session() as s:
        sel, _ = add_selector(s, bka, t_shared.id, "handle", "x")
        assert sel.distribution == "all"  # inherited from the target
        assert [x.id for x in list_selectors(s, fbi)] == [sel.id]


def test_the_digest_is_the_keyed_hash_of_kind_and_canonical_value(instance):
    bka = instance["bka_analyst"]
    with instance.store.session() as s:
        _, t = _case(s, bka, "BKA 1", "a")
        sel, _ = add_selector(s, bka, t.id, "phone", "0151 12345678", region="DE")
        key = instance_key(s)
    assert len(key) == 32
    expected = hmac.new(key, b"phone:+4915112345678", hashlib.sha256).hexdigest()
    assert sel.digest == expected == digest(key, "phone", "+4915112345678")
    assert digest(b"k" * 32, "phone", "+4915112345678") != expected
    assert digest(key, "handle", "+4915112345678") != expected  # the kind is hashed too


def test_notices_are_acknowledged_by_their_own_agency(instance):
    bka, fbi = instance["bka_analyst"], instance["fbi_analyst"]
    with instance.store.session() as s:
        _, t1 = _case(s, bka, "BKA 1", "a")
        _, t2 = _case(s, fbi, "FBI 1", "b")
        add_selector(s, bka, t1.id, "pgp_fingerprint", FP)
        add_selector(s, fbi, t2.id, "pgp_fingerprint", FP)
        [to_bka] = notices(s, bka)
    with pytest.raises(NotFound), instance.store.session() as s:
        acknowledge(s, fbi, to_bka.id)  # another agency's notice
    with pytest.raises(AccessDenied), instance.store.session() as s:
        acknowledge(s, instance["bka_viewer"], to_bka.id)
    with instance.store.session() as s:
        done = acknowledge(s, instance["bka_liaison"], to_bka.id)
        first = done.acknowledged_at
        assert done.acknowledged_by == instance["bka_liaison"].user_id
        again = acknowledge(s, bka, to_bka.id)
        assert (again.acknowledged_at, again.acknowledged_by) == (first, done.acknowledged_by)
        assert notices(s, bka, open_only=True) == []
        assert len(notices(s, fbi, open_only=True)) == 1
        assert _count(s, AuditEntry, AuditEntry.action == "acknowledge") == 1


def test_restricted_selectors_are_audited_when_listed(instance):
    bka = instance["bka_analyst"]
    with instance.store.session() as s:
        _, t = _case(s, bka, "BKA 1", "a")
        sel, _ = add_selector(s, bka, t.id, "handle", "x", handling="H2")
    with instance.store.session() as s:
        before = _count(s, AuditEntry, AuditEntry.action == "read")
        assert [x.id for x in list_selectors(s, bka, target_id=t.id)] == [sel.id]
        assert _count(s, AuditEntry, AuditEntry.action == "read") == before + 1


def test_a_selector_target_is_deconflicted_like_an_added_selector(instance):
    # `target add --kind selector --ref pgp_fingerprint:…` holds the value itself: it must
    # hit another agency's selector as `selector add` would.
    bka, fbi = instance["bka_analyst"], instance["fbi_analyst"]
    with instance.store.session() as s:
        _, t_bka = _case(s, bka, "Greenleaf (BKA)", "Dr Green on Monopoly")
        add_selector(s, bka, t_bka.id, "pgp_fingerprint", FP)
    with instance.store.session() as s:
        c = open_case(s, fbi, title="Sunflower (FBI)")
        target = add_target(s, fbi, c.id, kind="selector", ref=f"pgp_fingerprint:{FP_CANON}")
        [held] = list_selectors(s, fbi, target_id=target.id)
        assert held.value == FP_CANON
    with instance.store.session() as s:
        [to_bka] = notices(s, bka)
        [to_fbi] = notices(s, fbi)
        assert to_fbi.selector_id == held.id
        assert to_bka.other_selector_id == held.id
