"""Signs of shill feedback the store itself can show (no truth needed).

Shill feedback (a vendor's own accounts praising the vendor, with no sale behind it)
inflates any estimate built on feedback. What can be seen without knowing who is who:

- ``feedback_on_zero_sold``: feedback left inside the window of a counter that says
  0 sold: no sale stands behind it;
- ``feedback_over_counter``: on listings with counters, feedback beyond the number sold
  (the counter's window), summed;
- ``five_star_repeated_text``: 5-star feedback whose text (case and spaces folded) the same
  vendor received ``REPEAT`` times or more (canned praise; weak on markets whose buyers
  write one-word feedback);
- ``all_five_star_vendors``: vendors with ``MIN_FEEDBACK`` or more feedback, every one
  5 stars, and the feedback they hold.

Each count comes with its share of all (de-duplicated) feedback. None is excluded from
the estimate: they are signs, not proof; the range's scorer measures the real bias.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from spector.economics._calibrate import counter_rows
from spector.economics._sales import Evidence

__all__ = ["MIN_FEEDBACK", "REPEAT", "shill_signs"]

REPEAT = 3
MIN_FEEDBACK = 10


def _fold(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def shill_signs(evidence: Evidence) -> dict[str, object]:
    """The counts of the module docstring, with ``feedback`` (the total) and shares."""
    feedback = evidence.feedback
    total = len(feedback)
    rows = counter_rows(evidence)
    zero_sold = sum(r.feedback for r in rows if r.sold == 0)
    over = sum(max(0, r.feedback - r.sold) for r in rows)
    texts: dict[str | None, Counter[str]] = defaultdict(Counter)
    ratings: dict[str | None, list[float | None]] = defaultdict(list)
    for f in feedback:
        ratings[f.vendor_id].append(f.rating)
        if f.rating == 5 and _fold(f.text):
            texts[f.vendor_id][_fold(f.text)] += 1
    repeated = sum(n for counts in texts.values() for n in counts.values() if n >= REPEAT)
    all_five = [
        v
        for v, rs in ratings.items()
        if v is not None and len(rs) >= MIN_FEEDBACK and all(r == 5 for r in rs)
    ]
    all_five_feedback = sum(len(ratings[v]) for v in all_five)

    def share(n: int) -> float | None:
        return n / total if total else None

    return {
        "feedback": total,
        "feedback_on_zero_sold": zero_sold,
        "feedback_on_zero_sold_share": share(zero_sold),
        "feedback_over_counter": over,
        "feedback_over_counter_share": share(over),
        "five_star_repeated_text": repeated,
        "five_star_repeated_text_share": share(repeated),
        "all_five_star_vendors": len(all_five),
        "all_five_star_feedback": all_five_feedback,
        "all_five_star_feedback_share": share(all_five_feedback),
    }
