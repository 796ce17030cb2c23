"""Arrests and seizures recorded one by one (both backends), and the totals arithmetic.

The instance is tests.cases.harness.make_instance: BKA and Politie share the operation
"SpecTor", the FBI is outside it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from spector.cases._ops import (
    add_arrest,
    add_seizure,
    arrest_dict,
    list_arrests,
    list_seizures,
    operation_totals,
    seizure_dict,
)
from spector.cases._ops_totals import ArrestFact, SeizureFact, compute_totals
from spector.cases._records import add_target, open_case
from spector.errors import AccessDenied, InputError, NotFound
from tests.cases.harness import Instance

OP = "SpecTor"


def test_an_arrest_is_shared_with_the_operation_only(instance: Instance) -> None:
    with instance.store.session() as s:
        rec = add_arrest(s, instance["bka_analyst"], OP, country="DE", count=2,
                         date=date(2023, 4, 27), note="two vendors, Wiesbaden")  # fmt: skip
        assert rec.agency_id == instance.agencies["BKA"]
        assert rec.distribution == "operation"
    with instance.store.session() as s:
        nl = list_arrests(s, instance["nl_viewer"], OP)
        assert [arrest_dict(a)["count"] for a in nl] == [2]
        assert arrest_dict(nl[0])["date"] == "2023-04-27"
        assert list_arrests(s, instance["fbi_viewer"], OP) == []
        assert list_arrests(s, instance["fbi_viewer"]) == []


def test_an_agency_only_arrest_stays_in_the_agency(instance: Instance) -> None:
    with instance.store.session() as s:
        add_arrest(s, instance["bka_analyst"], OP, country="DE", distribution="agency")
    with instance.store.session() as s:
        assert len(list_arrests(s, instance["bka_viewer"], OP)) == 1
        assert list_arrests(s, instance["nl_viewer"], OP) == []
        assert operation_totals(s, instance["nl_viewer"], OP)["arrests"] == 0
        assert operation_totals(s, instance["bka_viewer"], OP)["arrests"] == 1


def test_roles_and_membership_are_checked(instance: Instance) -> None:
    with (
        pytest.raises(AccessDenied, match=r"bka_viewer may not add an? arrest"),
        instance.store.session() as s,
    ):
        add_arrest(s, instance["bka_viewer"], OP, country="DE")
    with pytest.raises(AccessDenied, match="not in operation"), instance.store.session() as s:
        add_arrest(s, instance["fbi_analyst"], OP, country="US", count=3)
    with pytest.raises(NotFound, match="no operation 'Spectre'"), instance.store.session() as s:
        add_arrest(s, instance["bka_analyst"], "Spectre", country="DE")
    with instance.store.session() as s:
        assert list_arrests(s, instance["admin"]) == []


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"country": "UK"}, r"unknown country code 'UK'.*did you mean 'GB'"),
        ({"country": "DE", "count": 0}, r"arrest count 0 \(expected a whole number ≥ 1\)"),
        ({"country": "DE", "count": True}, r"arrest count True"),
        ({"country": "DE", "distribution": "public"}, r"unknown distribution 'public'"),
    ],
)
def test_bad_arrests(instance: Instance, kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(InputError, match=pattern), instance.store.session() as s:
        add_arrest(s, instance["bka_analyst"], OP, **kwargs)  # type: ignore[arg-type]


def test_arrest_linked_to_a_target(instance: Instance) -> None:
    with instance.store.session() as s:
        case = open_case(s, instance["bka_analyst"], title="Monopoly vendors",
                         distribution="operation", operation=OP)  # fmt: skip
        target = add_target(s, instance["bka_analyst"], case.id, kind="person", label="J. D.",
                            details={"names": ["J. D."]})  # fmt: skip
        rec = add_arrest(s, instance["bka_analyst"], OP, country="DE", target_id=target.id)
        assert rec.target_id == target.id
        hidden = open_case(s, instance["fbi_analyst"], title="FBI only")
        fbi_target = add_target(s, instance["fbi_analyst"], hidden.id, kind="person",
                                details={"names": ["X"]})  # fmt: skip
        fbi_target_id = fbi_target.id
    with pytest.raises(NotFound), instance.store.session() as s:
        add_arrest(s, instance["bka_analyst"], OP, country="DE", target_id=fbi_target_id)


def test_seizures_of_each_kind(instance: Instance) -> None:
    p = instance["nl_analyst"]
    with instance.store.session() as s:
        add_seizure(s, p, OP, kind="cash_crypto", amount="0.1", currency="BTC")
        add_seizure(s, p, OP, kind="cash_crypto", amount=Decimal("0.2"), currency="BTC")
        add_seizure(s, p, OP, kind="cash_crypto", amount=1500, currency="EUR")
        add_seizure(s, p, OP, kind="firearms", count=3, date=date(2023, 5, 1))
        add_seizure(s, p, OP, kind="drugs", substance="cocaine", kg="0.1")
        add_seizure(s, p, OP, kind="drugs", substance="cocaine", kg="0.2")
        add_seizure(s, p, OP, kind="drugs", substance="MDMA", kg="1.25")
        add_seizure(s, p, OP, kind="other", description="vehicles", count=2)
    with instance.store.session() as s:
        rows = list_seizures(s, instance["bka_viewer"], OP)
        assert [seizure_dict(x)["kind"] for x in rows].count("drugs") == 3
        assert seizure_dict(rows[0])["amount"] == "0.1"
        totals = operation_totals(s, instance["bka_viewer"], OP)
        assert list_seizures(s, instance["fbi_viewer"], OP) == []
    # exact decimals: 0.1 + 0.2 is 0.3 (a float sum would be 0.30000000000000004)
    assert totals["cash_crypto"] == [
        {"amount": 0.3, "currency": "BTC"},
        {"amount": 1500, "currency": "EUR"},
    ]
    assert totals["drugs_kg"] == 1.55
    assert totals["drugs_kg_by_substance"] == {"MDMA": 1.25, "cocaine": 0.3}
    assert totals["firearms"] == 3
    assert totals["discrepancies"] == []  # nothing stated, nothing to reconcile


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"kind": "drug", "kg": 1}, r"unknown seizure kind 'drug'"),
        ({"kind": "drugs", "substance": "cocaine", "kg": "-1"}, r"drugs seizure: kg must be ≥ 0"),
        ({"kind": "drugs", "kg": 1}, r"drugs seizure: substance is required"),
        ({"kind": "firearms", "count": 2, "kg": 1}, r"a firearms seizure has no kg"),
        ({"kind": "cash_crypto", "amount": 5}, r"cash_crypto seizure: currency is required"),
        ({"kind": "cash_crypto", "amount": "lots", "currency": "EUR"}, r"seizure amount 'lots'"),
        ({"kind": "cash_crypto", "amount": 5, "currency": "euro"}, r"currency"),
        ({"kind": "other"}, r"other seizure: description is required"),
    ],
)
def test_bad_seizures(instance: Instance, kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(InputError, match=pattern), instance.store.session() as s:
        add_seizure(s, instance["nl_analyst"], OP, **kwargs)  # type: ignore[arg-type]
    with instance.store.session() as s:
        assert list_seizures(s, instance["nl_analyst"]) == []


def test_totals_of_an_unknown_operation(instance: Instance) -> None:
    with (
        pytest.raises(NotFound, match=r"no operation 'Spektor'.*did you mean 'SpecTor'"),
        instance.store.session() as s,
    ):
        operation_totals(s, instance["bka_viewer"], "Spektor")


# --- the arithmetic on plain values ---------------------------------------------------------


def test_records_above_the_stated_total() -> None:
    totals = compute_totals(
        [ArrestFact("DE", 3), ArrestFact("DE", 2), ArrestFact("NL", 1)],
        [SeizureFact("firearms", count=5), SeizureFact("drugs", substance="x", kg=Decimal("9.5"))],
        {"arrests": 4, "firearms": 5, "drugs_kg": "7.25", "arrests_by_country": {"DE": 5, "AT": 1}},
    )
    assert totals["arrests_by_country"] == {"DE": 5, "NL": 1}
    assert totals["discrepancies"] == [
        "arrests: 4 stated, 6 in the per-country records (2 more than stated)",
        "arrests in AT: 1 stated, 0 in the per-country records",
        "drugs: 7.25 kg stated, 9.5 kg itemised (2.25 kg more than stated)",
    ]


def test_cash_in_another_currency_does_not_count() -> None:
    totals = compute_totals(
        [],
        [SeizureFact("cash_crypto", amount=Decimal("12.5"), currency="BTC")],
        {"cash_crypto": {"amount": "1000000", "currency": "EUR"}},
    )
    assert totals["cash_crypto"] == [{"amount": 12.5, "currency": "BTC"}]
    assert totals["discrepancies"] == [
        "cash and crypto: EUR 1,000,000 stated, EUR 0 itemised (EUR 1,000,000 not itemised)"
    ]


def test_many_small_amounts_sum_exactly() -> None:
    seizures = [SeizureFact("drugs", substance="x", kg=Decimal("0.1")) for _ in range(1000)]
    totals = compute_totals([], seizures, {"drugs_kg": 100})
    assert totals["drugs_kg"] == 100
    assert isinstance(totals["drugs_kg"], int)
    assert totals["discrepancies"] == []
