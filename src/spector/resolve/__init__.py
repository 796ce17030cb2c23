"""Resolution: which accounts, on which markets and forums, are one actor.

Accounts (vendor accounts and forum members) are loaded with their evidence
(``load_accounts``; ``accounts_from_world`` for a training range's truth), paired by
blocking, never all pairs (``candidates``: shared PGP key, normalised handle, selector,
MinHash LSH of names and texts), and each pair described by ``pair_features`` (ordered
``FEATURES``) with ``evidence`` sentences an analyst can read. The decision model, actors,
analyst decisions and target packages are added by their own modules.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the package re-exports, imported on first use (spector._lazy)
    from spector.resolve._accounts import (
        AccountRow,
        Accounts,
        accounts_from_world,
        build_accounts,
        load_accounts,
    )
    from spector.resolve._blocking import Candidates, candidates
    from spector.resolve._browse import (
        account_detail,
        accounts_page,
        actor_detail,
        actor_exchanges,
        actors_page,
    )
    from spector.resolve._browse_graph import actor_graph, expand
    from spector.resolve._browse_links import decide, links_page, pair_link
    from spector.resolve._decisions import confirm, reject, split
    from spector.resolve._features import FEATURES, evidence, pair_features
    from spector.resolve._model import Model, load_model
    from spector.resolve._normalise import normalise_handle, skeleton
    from spector.resolve._package import actor_package, render
    from spector.resolve._run import ResolveResult, resolve
    from spector.resolve._store import actor_rows
else:
    from spector._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "FEATURES",
    "AccountRow",
    "Accounts",
    "Candidates",
    "Model",
    "ResolveResult",
    "account_detail",
    "accounts_from_world",
    "accounts_page",
    "actor_detail",
    "actor_exchanges",
    "actor_graph",
    "actor_package",
    "actor_rows",
    "actors_page",
    "build_accounts",
    "candidates",
    "confirm",
    "decide",
    "evidence",
    "expand",
    "links_page",
    "load_accounts",
    "load_model",
    "normalise_handle",
    "pair_features",
    "pair_link",
    "reject",
    "render",
    "resolve",
    "skeleton",
    "split",
]
