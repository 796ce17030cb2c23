"""The score in words, for people: the lines `spector sim score` and `spector demo` print."""

from __future__ import annotations

from typing import Any

__all__ = ["figure_line", "score_lines", "stage_line"]


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
    server, and every field below 1.0; then the chain's figures."""
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
    return lines
