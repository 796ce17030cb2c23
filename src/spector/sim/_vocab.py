"""Neutral vocabulary for the training range: names, product templates, feedback phrases.

Nothing here describes how to make or use anything: products are "Stimulant A 5g" and
the like, feedback talks about delivery and communication.
"""

from __future__ import annotations

import random

__all__ = [
    "CATEGORY_PLAN",
    "CITIES",
    "DROP_TYPES",
    "EMOJI",
    "FEEDBACK_EN",
    "FEEDBACK_RU",
    "FORUM_PHRASES",
    "LEET",
    "PHRASES",
    "SHIPPING_TERMS",
    "handle_variant",
    "invent_handle",
    "market_name",
]

_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ze",
    "to",
    "vu",
    "ne",
    "sa",
    "qi",
    "do",
    "fe",
    "gu",
    "ha",
    "jo",
    "ly",
    "po",
    "re",
    "ti",
    "wo",
    "xa",
    "yu",
    "bo",
    "ce",
]
_WORDS = [
    "green",
    "nova",
    "polar",
    "silent",
    "rapid",
    "amber",
    "cobalt",
    "delta",
    "echo",
    "frost",
    "golden",
    "harbor",
    "iron",
    "jade",
    "kilo",
    "lunar",
    "maple",
    "north",
    "onyx",
    "pixel",
    "quartz",
    "river",
    "stone",
    "tango",
    "ultra",
    "velvet",
    "wolf",
    "zen",
    "orbit",
    "cedar",
]
_SUFFIXES = ["shop", "store", "official", "direct", "uk", "eu", "team", "labs", "express"]
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}

# (category code, product noun, units and quantities, USD per unit range)
CATEGORY_PLAN: list[tuple[str, str, list[tuple[str, list[str]]], tuple[float, float]]] = [
    ("drugs.cannabis", "Herbal product", [("g", ["1", "3.5", "7", "14", "28"])], (6, 12)),
    ("drugs.stimulants", "Stimulant", [("g", ["0.5", "1", "2", "5"])], (40, 90)),
    ("drugs.ecstasy", "Tablet", [("pcs", ["10", "25", "50", "100"])], (3, 9)),
    ("drugs.psychedelics", "Blotter", [("pcs", ["5", "10", "25"])], (5, 12)),
    ("drugs.benzodiazepines", "Medication B", [("pcs", ["10", "30", "60"])], (1.5, 4)),
    ("drugs.opioids", "Medication O", [("pcs", ["5", "10", "20"])], (8, 25)),
    ("medicines", "Prescription item", [("pcs", ["10", "30", "90"])], (1, 3)),
    ("counterfeit.documents", "Novelty document", [("pcs", ["1"])], (80, 300)),
    ("fraud.accounts", "Account bundle", [("pcs", ["1", "10", "50"])], (2, 15)),
    ("digital", "Guide", [("pcs", ["1"])], (5, 40)),
    ("services", "Service", [("pcs", ["1"])], (20, 150)),
]

PHRASES = [
    "fast and discreet",
    "quality first",
    "top rated since day one",
    "reship policy applies",
    "read the terms before ordering",
    "no refunds after finalize",
    "bulk deals on request",
    "professional service",
    "weekend orders ship monday",
    "always in stock",
]
SHIPPING_TERMS = [
    "discreet packaging",
    "tracked shipping",
    "ships within 24h",
    "next day dispatch",
    "signed for delivery",
    "vacuum packed",
    "standard post",
    "express option",
]
EMOJI = ["", "", "🔥", "✅", "🚀", "⭐", "💯", "📦"]

FEEDBACK_EN = [
    "fast delivery, good comms",
    "as described, thanks",
    "arrived in 3 days",
    "great vendor",
    "5/5 would order again",
    "packaging was discreet",
    "slow but arrived",
    "all good",
    "quality as promised",
    "excellent communication",
    "took a while, vendor helped",
    "perfect, thank you",
]
FEEDBACK_RU = [
    "всё отлично, спасибо",
    "клад на месте",
    "быстро и чётко",
    "рекомендую магазин",
    "нашёл сразу",
    "качество хорошее",
    "оператор на связи",
    "всё как в описании",
]
FORUM_PHRASES = [
    "Has anyone tried the new escrow rules?",
    "Review of last week's order, all fine.",
    "Which mirror works today?",
    "PSA: always verify the PGP signature.",
    "Market was slow yesterday, back now.",
    "Looking for recommendations, EU only.",
    "Vendor answered within an hour.",
    "Reminder: read the rules before posting.",
]

CITIES: dict[str, list[str]] = {
    "Москва": ["Арбат", "Басманный", "Тверской", "Хамовники", "Пресненский"],
    "Санкт-Петербург": ["Адмиралтейский", "Василеостровский", "Невский", "Приморский"],
    "Екатеринбург": ["Ленинский", "Кировский", "Октябрьский"],
    "Новосибирск": ["Центральный", "Заельцовский", "Советский"],
    "Казань": ["Вахитовский", "Приволжский", "Ново-Савиновский"],
}
DROP_TYPES = ["магнит", "прикоп", "тайник"]


def market_name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = (
            rng.choice(_WORDS).capitalize() + " " + rng.choice(["Market", "Bazaar", "Shop", "Hub"])
        )
        if name not in taken:
            taken.add(name)
            return name


def invent_handle(rng: random.Random, taken: set[str]) -> str:
    while True:
        style = rng.random()
        if style < 0.4:
            name = rng.choice(_WORDS) + rng.choice(_WORDS).capitalize()
        elif style < 0.7:
            name = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        else:
            name = rng.choice(_WORDS) + "_" + rng.choice(_SYLLABLES) + rng.choice(_SYLLABLES)
        if name.casefold() not in taken:
            taken.add(name.casefold())
            return name


def handle_variant(rng: random.Random, base: str, taken: set[str]) -> tuple[str, str]:
    """A variant of ``base`` for another market, and how it was made (truth for linking)."""
    for _ in range(50):
        how = rng.choice(["same", "case", "digits", "leet", "suffix", "unrelated"])
        if how == "same":
            name = base
        elif how == "case":
            name = base.upper() if rng.random() < 0.5 else base.capitalize()
        elif how == "digits":
            name = base + str(rng.randint(1, 99))
        elif how == "leet":
            name = "".join(LEET.get(c, c) if rng.random() < 0.6 else c for c in base)
        elif how == "suffix":
            name = f"{base}{rng.choice(['_', '', '-'])}{rng.choice(_SUFFIXES)}"
        else:
            return invent_handle(rng, taken), how
        if name.casefold() not in taken:
            taken.add(name.casefold())
            return name, how
    return invent_handle(rng, taken), "unrelated"
