"""Bad input through the whole of `spector resolve` (store -> actors), not only blocking and
features: a market with 2,000 accounts named "admin", one-character handles, empty texts,
accounts without keys, and a confusable copy of a vendor's name with its own key and
country. No crash, and nobody joined who should not be."""

from __future__ import annotations

from spector.model import Listing, Market, VendorAccount
from spector.resolve import resolve


def _vendor(m: Market, handle: str, **kw: object) -> VendorAccount:
    return VendorAccount(market_id=m.id, handle=handle, **kw)


def test_hostile_accounts_resolve_without_spurious_links(workspace) -> None:
    admins, alpha, beta = Market(name="Admins"), Market(name="Alpha"), Market(name="Beta")
    key = "AB" * 20
    records: list[object] = [admins, alpha, beta]
    records.append(_vendor(admins, "admin", profile_text=""))
    # an account's id is its market and handle: 2,000 more that all normalise to "admin"
    records += [_vendor(admins, f"admin{'_' * (k % 3)}{k}", profile_text="") for k in range(2000)]
    records += [_vendor(alpha, h) for h in ("a", "b", "x", "1")]  # one-character handles
    records += [_vendor(beta, h, profile_text="   ") for h in ("a", "b", "x", "1")]
    north = _vendor(
        alpha,
        "NorthStar",
        pgp_fingerprints=(key,),
        ships_from="NL",
        profile_text="Welcome to NorthStar!! Stealth shipping from NL. PGP only.",
    )
    copy = _vendor(
        beta,
        "NоrthStar",  # a Cyrillic 'о'
        pgp_fingerprints=("CD" * 20,),
        ships_from="GB",
        profile_text="Welcome to NorthStar!! Stealth shipping from NL. PGP only.",
    )
    records += [north, copy]
    records += [
        Listing(market_id=alpha.id, listing_ref="1", vendor_id=north.id, title="Cocaine 1g"),
        Listing(market_id=beta.id, listing_ref="1", vendor_id=copy.id, title="Cocaine 1g"),
    ]
    workspace.store.upsert(records, source="test")
    result = resolve(workspace)
    summary = result.summary()
    assert summary["accounts"] == len(records) - 5  # markets and listings are not accounts
    # never all pairs of the admins (2 M): their numbers read as l33t ("admin10": "adminio")
    # still make small blocks, which the model then does not link
    assert summary["candidate_pairs"] < summary["all_pairs"] / 50
    groups = workspace.store.con.execute(
        "SELECT actor_id, list(account_id) FROM actor_accounts GROUP BY actor_id "
        "HAVING count(*) > 1"
    ).fetchall()
    assert groups == [], groups  # the admins, the one-letter handles and the copy: alone
