"""Building blocks shared by the per-API generators: people, addresses, products."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from . import vocab
from .rand import Rng

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    email: str


@dataclass(frozen=True)
class Address:
    line1: str
    line2: str | None
    city: str
    state: str
    country: str
    postal: str
    phone: str | None


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def slugify(text: str) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in _ascii(text).lower())
    return "-".join(part for part in cleaned.split("-") if part)


def person(rng: Rng) -> Person:
    first, last = rng.pick(vocab.FIRST_NAMES), rng.pick(vocab.LAST_NAMES)
    local = slugify(f"{first}.{last}").replace("-", ".")
    email = f"{local}{rng.between(1, 999)}@{rng.pick(vocab.EMAIL_DOMAINS)}"
    return Person(first, last, email)


def postal_code(rng: Rng, pattern: str) -> str:
    out = []
    for c in pattern:
        if c == "9":
            out.append(str(rng.between(0, 9)))
        elif c == "A":
            out.append(chr(ord("A") + rng.between(0, 25)))
        else:
            out.append(c)
    return "".join(out)


def address(rng: Rng) -> Address:
    city, state, country, pattern = rng.pick(vocab.CITIES)
    return Address(
        line1=f"{rng.between(1, 2500)} {rng.pick(vocab.STREETS)}",
        line2=rng.maybe(f"Apt {rng.between(1, 90)}", 0.7),
        city=city,
        state=state,
        country=country,
        postal=postal_code(rng, pattern),
        phone=rng.maybe(f"+1-555-{rng.digits(3)}-{rng.digits(4)}", 0.3),
    )


def product_name(rng: Rng) -> str:
    return f"{rng.pick(vocab.ADJECTIVES)} {rng.pick(vocab.MATERIALS)} {rng.pick(vocab.NOUNS)}"


def sku(rng: Rng, prefix: str = "SKU") -> str:
    return f"{prefix}-{rng.digits(5)}-{rng.hex(3).upper()}"


def description_html(rng: Rng) -> str:
    return f"<p>{rng.words(vocab.LOREM, 8, 30).capitalize()}.</p>"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)
