"""Threshold clustering into actors, under the analyst's decisions and the impostor rule."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from spector.resolve._actors import (
    ActorDecisions,
    actor_id_for,
    cluster_actors,
    conflicts,
    informative_ships,
)


def _cluster(pairs, scores, threshold=0.5, *, n=None, pgp=None, ships=None, decisions=None):
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    size = n if n is not None else int(arr.max()) + 1
    return cluster_actors(
        size, arr, np.array(scores, dtype=np.float64), threshold,
        pgp=pgp or [()] * size, ships_from=ships or [None] * size, decisions=decisions,
    )  # fmt: skip


def _groups(clustering) -> list[list[int]]:
    return sorted(g for g in clustering.groups().values())


def test_threshold_links_only_pairs_at_or_above_it_and_transitively():
    c = _cluster([(0, 1), (1, 2), (3, 4), (4, 5)], [0.9, 0.5, 0.49, 0.2])
    assert _groups(c) == [[0, 1, 2], [3], [4], [5]]
    assert c.joined == {0, 1}
    assert c.labels.tolist() == [0, 0, 0, 3, 4, 5]
    lower = _cluster([(0, 1), (1, 2), (3, 4), (4, 5)], [0.9, 0.5, 0.49, 0.2], threshold=0.3)
    assert _groups(lower) == [[0, 1, 2], [3, 4], [5]]


def test_rejected_pair_is_never_joined_not_even_through_other_links():
    rejects = ActorDecisions(rejects=frozenset({(0, 2)}))
    c = _cluster([(0, 1), (1, 2), (0, 2)], [0.95, 0.9, 0.99], decisions=rejects)
    # 0-2 is rejected; 0-1 (0.95) joins first; 1-2 would put 0 and 2 together: refused.
    assert _groups(c) == [[0, 1], [2]]
    assert c.refused[2] == "rejected by the analyst"
    assert "rejected" in c.refused[1]
    assert c.labels[0] != c.labels[2]


def test_confirmed_pair_is_joined_whatever_its_score_and_the_impostor_rule():
    pgp = [("AAAA1111",), ("BBBB2222",), ()]
    ships = ["NL", "DE", None]
    confirm = ActorDecisions(confirms=frozenset({(0, 1)}))
    c = _cluster([(0, 1)], [0.01], pgp=pgp, ships=ships, n=3, decisions=confirm)
    assert _groups(c) == [[0, 1], [2]]
    assert c.joined == {0}
    # a confirm of a pair blocking never proposed joins too
    other = ActorDecisions(confirms=frozenset({(1, 2)}))
    c2 = _cluster([(0, 1)], [0.01], pgp=pgp, ships=ships, n=3, decisions=other)
    assert _groups(c2) == [[0], [1, 2]]


def test_split_accounts_join_nothing_automatically_unless_confirmed():
    split = ActorDecisions(split=frozenset({0, 1, 2}))
    c = _cluster([(0, 1), (1, 2), (2, 3)], [0.99, 0.99, 0.99], decisions=split)
    assert _groups(c) == [[0], [1], [2], [3]]
    assert all("split" in c.refused[k] for k in (0, 1, 2))
    again = ActorDecisions(split=frozenset({0, 1, 2}), confirms=frozenset({(0, 1)}))
    c2 = _cluster([(0, 1), (1, 2), (2, 3)], [0.99, 0.99, 0.99], decisions=again)
    assert _groups(c2) == [[0, 1], [2], [3]]


def test_impostor_rule_refuses_a_join_with_other_key_and_other_country():
    # 0 and 1: the vendor (one key, NL); 2: an impostor copying it (own key, ships from DE)
    # 3: a keyless account with no country: nothing to conflict with
    pgp = [("AAAA1111",), ("AAAA1111",), ("CCCC3333",), ()]
    ships = ["NL", "NL", "DE", None]
    c = _cluster([(0, 1), (1, 2), (0, 3)], [0.99, 0.98, 0.97], pgp=pgp, ships=ships)
    assert _groups(c) == [[0, 1, 3], [2]]
    assert "impostor rule" in c.refused[1]
    assert "0xAAAA1111" in c.refused[1]
    assert "0xCCCC3333" in c.refused[1]
    # a new key on a new market from the same country is a vendor's habit: joined
    same_country = _cluster([(0, 1), (1, 2)], [0.99, 0.98], pgp=pgp[:3],
                            ships=["NL", "NL", "NL"])  # fmt: skip
    assert _groups(same_country) == [[0, 1, 2]]
    # a keyless account shipping from elsewhere conflicts with a keyed one; two keyless do not
    assert conflicts((frozenset(), "NL"), (frozenset({"X"}), "DE"))
    assert not conflicts((frozenset(), "NL"), (frozenset(), "DE"))
    assert not conflicts((frozenset({"X"}), None), (frozenset({"Y"}), "DE"))
    assert conflicts((frozenset({"X"}), "NL"), (frozenset({"Y"}), "DE"))
    assert not conflicts((frozenset({"X", "Y"}), "NL"), (frozenset({"Y"}), "DE"))


def test_an_account_in_between_goes_to_the_side_it_is_linked_to_most():
    # 0, 1: a vendor's two accounts (one key, NL); 2: a forum member without key or
    # country, linked to both; 3: an impostor (own key, DE) linked to the member more
    # strongly than to either vendor account. Pairwise greedy would give the member to
    # the impostor; the summed links give it to the vendor.
    pgp = [("A",), ("A",), (), ("B",)]
    ships = ["NL", "NL", None, "DE"]
    c = _cluster([(0, 1), (0, 2), (1, 2), (2, 3)], [0.99, 0.8, 0.8, 0.95], pgp=pgp, ships=ships)
    assert _groups(c) == [[0, 1, 2], [3]]
    assert "impostor rule" in c.refused[3]


def test_single_country_markets_do_not_count_for_the_impostor_rule():
    # market H: every account ships from RU (its rule); the vendor's H account and its
    # account elsewhere (other key, NL) are one actor
    pgp = [("A",), ("B",), ("C",), ("D",), ("E",)]
    ships = ["RU", "NL", "RU", "RU", "RU"]
    markets = ["H", "M", "H", "H", "H"]
    arr = np.array([(0, 1)], dtype=np.int64)
    joined = cluster_actors(5, arr, np.array([0.9]), 0.5, pgp=pgp, ships_from=ships,
                            market_id=markets)  # fmt: skip
    assert joined.labels[0] == joined.labels[1]
    apart = cluster_actors(5, arr, np.array([0.9]), 0.5, pgp=pgp, ships_from=ships)
    assert apart.labels[0] != apart.labels[1]
    assert informative_ships(markets, ships) == [None, "NL", None, None, None]


def test_greedy_order_is_by_score_then_index_and_deterministic():
    # 1 could go with 0 (key A, NL) or 2 (key B, DE): the higher score wins.
    pgp = [("A",), (), ("B",)]
    ships = ["NL", None, "DE"]
    c = _cluster([(0, 1), (1, 2)], [0.7, 0.8], pgp=pgp, ships=ships)
    assert _groups(c) == [[0], [1, 2]]
    c2 = _cluster([(0, 1), (1, 2)], [0.8, 0.7], pgp=pgp, ships=ships)
    assert _groups(c2) == [[0, 1], [2]]
    ties = [_cluster([(0, 1), (1, 2)], [0.8, 0.8], pgp=pgp, ships=ships).labels.tolist()
            for _ in range(3)]  # fmt: skip
    assert ties[0] == ties[1] == ties[2] == [0, 0, 2]


def test_actor_id_is_sha256_of_the_smallest_account_id():
    ids = ["vendor_account-b", "vendor_account-a", "vendor_account-c"]
    expected = "actor-" + hashlib.sha256(b"vendor_account-a").hexdigest()[:12]
    assert actor_id_for(ids) == expected
    assert actor_id_for(list(reversed(ids))) == expected
    assert len(expected) == len("actor-") + 12
    with pytest.raises(ValueError, match="at least one account"):
        actor_id_for([])
