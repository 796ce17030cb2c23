"""Image CAPTCHAs for the range's login pages, deterministic per seed.

Each market has a fixed deck of CAPTCHAs; the truth maps the SHA-256 of every image to
its answer, so tests can solve them "as a human would" (by looking the picture up).
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

__all__ = ["Captcha", "captcha_deck"]

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I look-alikes


@dataclass(frozen=True, slots=True)
class Captcha:
    answer: str
    png: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.png).hexdigest()


def _draw(rng: random.Random, answer: str) -> bytes:
    image = Image.new("L", (150, 50), color=235)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=28)
    for _ in range(6):
        draw.line(
            [(rng.randrange(150), rng.randrange(50)), (rng.randrange(150), rng.randrange(50))],
            fill=rng.randrange(90, 180),
            width=1,
        )
    for i, ch in enumerate(answer):
        draw.text((10 + 27 * i, rng.randrange(2, 14)), ch, fill=rng.randrange(0, 70), font=font)
    for _ in range(120):
        draw.point((rng.randrange(150), rng.randrange(50)), fill=rng.randrange(0, 255))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def captcha_deck(seed: int, market_id: str, size: int = 12) -> list[Captcha]:
    """The ``size`` CAPTCHAs a market shows, in the order it shows them."""
    rng = random.Random(f"captcha|{seed}|{market_id}")
    deck = []
    for _ in range(size):
        answer = "".join(rng.choice(_ALPHABET) for _ in range(5))
        deck.append(Captcha(answer, _draw(rng, answer)))
    return deck
