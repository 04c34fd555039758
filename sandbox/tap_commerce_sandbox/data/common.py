"""Building blocks shared by the per-API generators: people, addresses, products."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from . import vocab

if TYPE_CHECKING:
    from .rand import Rng

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Person:
    """A customer's name and e-mail address."""

    first: str
    last: str
    email: str


@dataclass(frozen=True)
class Address:
    """A postal address (and a phone number, sometimes)."""

    line1: str
    line2: str | None
    city: str
    state: str
    country: str
    postal: str
    phone: str | None


def _ascii(text: str) -> str:
    """``text`` without its accents and other non-ASCII characters."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def slugify(text: str) -> str:
    """``text`` as a URL slug: lower-case ASCII words joined by ``-``."""
    cleaned = "".join(c if c.isalnum() else "-" for c in _ascii(text).lower())
    return "-".join(part for part in cleaned.split("-") if part)


def person(rng: Rng) -> Person:
    """A random person."""
    first, last = rng.pick(vocab.FIRST_NAMES), rng.pick(vocab.LAST_NAMES)
    local = slugify(f"{first}.{last}").replace("-", ".")
    email = f"{local}{rng.between(1, 999)}@{rng.pick(vocab.EMAIL_DOMAINS)}"
    return Person(first, last, email)


def postal_code(rng: Rng, pattern: str) -> str:
    """A code of ``pattern``: ``9`` a random digit, ``A`` a random letter, else as is."""
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
    """A random address in one of the vocabulary's cities."""
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
    """``<adjective> <material> <noun>``."""
    return f"{rng.pick(vocab.ADJECTIVES)} {rng.pick(vocab.MATERIALS)} {rng.pick(vocab.NOUNS)}"


def sku(rng: Rng, prefix: str = "SKU") -> str:
    """``<prefix>-12345-ABC``."""
    return f"{prefix}-{rng.digits(5)}-{rng.hex(3).upper()}"


def description_html(rng: Rng) -> str:
    """A paragraph of lorem ipsum, as HTML."""
    return f"<p>{rng.words(vocab.LOREM, 8, 30).capitalize()}.</p>"


def cents(value: Decimal) -> Decimal:
    """``value`` rounded to the cent."""
    return value.quantize(CENT)
