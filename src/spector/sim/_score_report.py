"""The score in words, for people: the lines `spector sim score` and `spector demo` print."""

from __future__ import annotations

from typing import Any

__all__ = [
    "clustering_lines",
    "figure_line",
    "linking_lines",
    "revenue_lines",
    "score_lines",
    "stage_line",
    "tracing_lines",
]


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def figure_line(label: str, part: dict[str, Any]) -> str:
    """``label: recall R precision P fields F (scope)``, with the counts behind each."""
    c = part["counts"]
    return (
        f"{label}: recall {_fmt(part['recall'])} ({c['found']:,}/{c['truth']:,}), "
        f"precision {_fmt(part['precision'])} ({c['true']:,}/{c['stored']:,}), "
        f"fields {_fmt(part['field_accuracy'])} ({c['fields_correct']:,}/{c['fields_scored']:,})"
        f" — {part['scope']}"
    )


def stage_line(result: dict[str, Any]) -> str:
    """One line: the range, and each stage's headline recall."""
    parts = [f"range seed {result['range']['seed']} day {result['range']['day']}"]
    for stage, metrics in sorted(result.items()):
        if stage != "range" and isinstance(metrics, dict) and metrics.get("recall") is not None:
            parts.append(f"{stage}.recall {metrics['recall']:.3f}")
    return ", ".join(parts)


def _below(part: dict[str, Any], label: str) -> list[str]:
    """The fields under 1.0, with a wrong value to show why."""
    lines = []
    for name, f in part.get("fields", {}).items():
        if f["accuracy"] is not None and f["accuracy"] < 1:
            example = f.get("wrong", [{}])[0] if f.get("wrong") else {}
            why = (
                f" e.g. {example['key']}: {example['want']!r} stored as {example['got']!r}"
                if example
                else ""
            )
            lines.append(
                f"{label}.{name} {f['accuracy']:.3f} ({f['correct']:,}/{f['scored']:,}){why}"
            )
    return lines


def score_lines(result: dict[str, Any], *, families: bool = True) -> list[str]:
    """The extraction score with its scope: overall, per kind, per family, the seized
    server, and every field below 1.0; then the chain's figures, its clusters and traces."""
    ex = result.get("extraction") or {}
    lines = [stage_line(result)]
    if ex:
        lines.append(figure_line("extraction", ex))
        for kind, part in ex["by_kind"].items():
            lines.append("  " + figure_line(kind, part))
        if families:
            for fam, part in ex.get("by_family", {}).items():
                lines.append("  " + figure_line(f"family {fam}", part))
        seized = ex.get("seized")
        if seized:
            lines.append(figure_line("seized server", seized))
            for kind, part in seized["by_kind"].items():
                if part["counts"]["truth"] or part["counts"]["stored"]:
                    lines.append("  " + figure_line(kind, part))
        below = [line for kind, part in ex["by_kind"].items() for line in _below(part, kind)]
        if seized:
            below += [
                line
                for kind, part in seized["by_kind"].items()
                for line in _below(part, f"seized.{kind}")
            ]
        lines += [f"  below 1.0: {line}" for line in below]
    chain = result.get("chain") or {}
    if chain.get("recall") is not None:
        rest = ", ".join(f"{k} {_fmt(v)}" for k, v in sorted(chain.items()) if k != "transactions")
        lines.append(f"chain: {rest} of {chain['transactions']:,} transactions")
    lines += clustering_lines(result.get("clustering") or {})
    lines += tracing_lines(result.get("tracing") or {})
    lines += linking_lines(result.get("linking") or {})
    lines += revenue_lines(result.get("revenue") or {})
    return lines


def linking_lines(lk: dict[str, Any]) -> list[str]:
    """``linking``: pairwise precision, recall and F1 with the pairs behind them, and the
    impostors merged; one line saying what is missing when nothing was scored."""
    if lk.get("f1") is None and "pairs" not in lk:
        return [f"linking: not scored — {lk['scope']}"] if lk.get("scope") else []
    p = lk["pairs"]
    return [
        f"linking: precision {_fmt(lk['precision'])} ({p['true']:,}/{p['predicted']:,} pairs), "
        f"recall {_fmt(lk['recall'])} ({p['true']:,}/{p['truth']:,}), f1 {_fmt(lk['f1'])}; "
        f"impostors merged {lk['impostors_merged']:,} of {lk['impostors_in_workspace']:,} "
        f"held ({lk['impostors']:,} in the range) — {lk['scope']}"
    ]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1%}"


def revenue_lines(rv: dict[str, Any]) -> list[str]:
    """``revenue``: the largest error over markets (each at its own feedback rate) and the
    vendors' rank correlation, the uniform and calibrated rates' errors, the oracle and
    the shill share; then per market the estimate against the truth."""
    if not rv.get("by_market"):
        return [f"revenue: not scored — {rv['scope']}"] if rv.get("scope") else []
    uni, cal, shill = rv["uniform"], rv["calibrated"], rv["shill"]
    lines = [
        f"revenue: max |error| over markets {_fmt(rv['max_abs_rel_error'])} (each at its own "
        f"feedback rate), vendor Spearman {_fmt(rv['spearman'])}; at one rate "
        f"{_fmt(uni['feedback_rate'])} max |error| {_fmt(uni['max_abs_rel_error'])}; "
        f"calibrated (rate {_fmt(cal['feedback_rate'])}) {_fmt(cal['max_abs_rel_error'])}; "
        f"each feedback at its true price {_fmt(rv['bound']['max_abs_rel_error_own_rate'])}; "
        f"shill feedback {_fmt(shill['share'])} of the feedback value — {rv['scope']}"
    ]
    for name, m in rv["by_market"].items():
        rate = m["feedback_rate"]
        lines.append(
            f"  {name}: estimate ${m['estimate_usd'] or 0:,.0f} against ${m['true_usd']:,.0f} "
            f"({_pct(m['rel_error'])} at rate {'—' if rate is None else f'{rate:.3f}'}; "
            f"uniform {_pct(m['uniform_rel_error'])}; calibrated "
            f"{_pct(m['calibrated_rel_error'])}; shill {m['shill_share']:.1%}; each feedback "
            f"at its true price {_pct(m['bound_own_rate_rel_error'])}) over {m['sales']:,} "
            f"sales to day {m['as_of_day']}"
        )
    return lines


def clustering_lines(cl: dict[str, Any]) -> list[str]:
    """``clustering``: false merges and recall with their scope, the CoinJoin detector,
    each change heuristic; one line saying what is missing when nothing was scored."""
    if cl.get("recall") is None and "counts" not in cl:
        return [f"clustering: not scored — {cl['scope']}"] if cl.get("scope") else []
    c = cl["counts"]
    through = cl.get("through", {})
    cj, mx = through.get("coinjoin", {}), through.get("mixer", {})
    kinds = ", ".join(
        f"{kind} {_fmt(part['recall'])}" for kind, part in cl["recall_by_owner_kind"].items()
    )
    impure = cl.get("impure_clusters", {"clusters": 0, "addresses": 0})
    cc = cl["coinjoin_counts"]
    chips = cl["chips"]
    lines = [
        f"clustering: false merges {_fmt(cl['false_merge_rate'])} "
        f"({c['false_merges']:,}/{c['merges']:,} merges join two owners; through coinjoins "
        f"{cj.get('false_merges', 0):,}/{cj.get('merges', 0):,}, through the mixer "
        f"{mx.get('false_merges', 0):,}/{mx.get('merges', 0):,}; {impure['clusters']:,} "
        f"clusters hold two owners), recall {_fmt(cl['recall'])} (addresses in their owner's "
        f"largest cluster; {kinds}) — {cl['scope']}",
        f"  coinjoin detector: precision {_fmt(cl['coinjoin_precision'])} "
        f"({cc['true']:,}/{cc['detected']:,}), recall {_fmt(cl['coinjoin_recall'])} "
        f"({cc['true']:,}/{cc['truth']:,}); chips precision {_fmt(chips['precision'])} "
        f"({chips['true']:,}/{chips['detected']:,}), recall {_fmt(chips['recall'])} "
        f"({chips['true']:,}/{chips['truth']:,}) — {chips['scope']}",
    ]
    for name, h in cl.get("change", {}).items():
        lines.append(
            f"  change heuristic {name} (alone, over these clusters): +{h['merges_added']:,} "
            f"merges, {h['false_merges']:,} false ({_fmt(h['false_merge_rate'])}); "
            f"{h['judged']:,} change outputs judged, precision {_fmt(h['precision'])}"
        )
    return lines


def tracing_lines(tr: dict[str, Any]) -> list[str]:
    """``tracing``: the vendor-weighted share under haircut with its scope, then per policy
    and cash-out method; one line saying what is missing when nothing was scored."""
    if not tr.get("by_policy"):
        return [f"tracing: not scored — {tr['scope']}"] if tr.get("scope") else []
    lines = [
        f"tracing: traced share {_fmt(tr['traced_share'])} (haircut, vendor-weighted; "
        f"amount-weighted {_fmt(tr.get('amount_weighted'))}) — {tr['scope']}"
    ]
    for policy, part in tr["by_policy"].items():
        methods = ", ".join(
            f"{m} {_fmt(v)} ({part['vendors_by_method'][m]})" for m, v in part["by_method"].items()
        )
        errors = f"; {part['trace_errors']} traces failed" if part.get("trace_errors") else ""
        lines.append(
            f"  {policy}: {_fmt(part['traced_share'])} (amount-weighted "
            f"{_fmt(part['amount_weighted'])}); by method (vendors): {methods}{errors}"
        )
    return lines
