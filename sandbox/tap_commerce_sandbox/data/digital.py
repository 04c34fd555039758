"""digital data (contract §2.4): integer ids, money as decimal strings (``"10.00"``),
timestamps ``2024-03-01T12:00:00Z``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tap_commerce_sandbox.timefmt import utc_seconds_z

from . import vocab
from .common import cents, person, slugify
from .ids import IntIds
from .tables import Row, StreamSpec

if TYPE_CHECKING:
    from .rand import Rng
    from .tables import Record, Timing

API = "digital"
_CURRENCIES = ("USD", "USD", "USD", "EUR", "GBP")


def _price(rng: Rng) -> str:
    return str(rng.pick((Decimal("0.00"), rng.money(1, 20), rng.money(5, 99), rng.money(20, 400))))


def _product_ids(rng: Rng, row: Row) -> list[int]:
    return sorted({row.refs.pick_id(rng, "products") for _ in range(rng.between(1, 5))})


def build_product(rng: Rng, row: Row) -> Record:
    """A digital product and its price."""
    name = f"{rng.pick(vocab.ADJECTIVES)} {rng.pick(vocab.DIGITAL_NOUNS)}"
    return {
        "id": row.id,
        "name": name,
        "product_type": rng.pick(("digital", "digital", "digital", "physical", "service")),
        "price": _price(rng),
        "currency_code": rng.pick(_CURRENCIES),
        "sales_limit": rng.maybe(rng.between(10, 1000), 0.8),
        "pdf_stamping": rng.chance(0.2),
        "self_hosted_url": rng.maybe(f"https://files.example.com/{slugify(name)}.zip", 0.85),
        "product_image_url": rng.maybe(f"https://cdn.example.com/p/{row.id}.png", 0.15),
        "created_at": row.created,
        "updated_at": row.modified,
    }


def touch_product(rng: Rng, record: Record, _now: str) -> None:
    """A new price."""
    record["price"] = _price(rng)


def build_package(rng: Rng, row: Row) -> Record:
    """A package of products."""
    return {
        "id": row.id,
        "name": f"{rng.pick(vocab.ADJECTIVES)} Bundle {row.index + 1}",
        "price": _price(rng),
        "currency_code": rng.pick(_CURRENCIES),
        "components": {"product_ids": rng.array(lambda: _product_ids(rng, row), p_empty=0.05)},
        "created_at": row.created,
        "updated_at": row.modified,
    }


def touch_package(_rng: Rng, record: Record, _now: str) -> None:
    """A package renamed (a new edition)."""
    record["name"] = f"{record['name']} (new edition)"


def build_order(rng: Rng, row: Row) -> Record:
    """An order of products and packages."""
    buyer = person(rng)
    items = [
        {
            "product_id": row.refs.pick_id(rng, "products"),
            "quantity": rng.between(1, 2),
            "price_at_checkout": _price(rng),
        }
        for _ in range(rng.between(1, 3))
    ]
    gross = sum((Decimal(i["price_at_checkout"]) * i["quantity"] for i in items), Decimal("0.00"))
    fee = cents(gross * Decimal("0.029") + Decimal("0.30")) if gross else Decimal("0.00")
    state = rng.pick(("complete", "complete", "complete", "refunded", "pending", "failed"))
    return {
        "id": row.id,
        "state": state,
        "gateway": rng.pick(("stripe", "paypal")),
        "buyer_email": buyer.email,
        "buyer_name": rng.maybe(f"{buyer.first} {buyer.last}", 0.1),
        "price_at_checkout": str(gross),
        "settled_currency": rng.maybe(rng.pick(_CURRENCIES), 0.1),
        "settled_gross": str(gross) if state == "complete" else None,
        "settled_gateway_fee": str(fee) if state == "complete" else None,
        "download_url": f"https://dl.example.com/o/{row.id}/{rng.hex(16)}"
        if state == "complete"
        else None,
        "cart": {"cart_items": items},
        "subscription_id": rng.maybe(row.refs.pick_id(rng, "subscriptions"), 0.85),
        "created_at": row.created,
        "updated_at": row.modified,
    }


def touch_order(_rng: Rng, record: Record, _now: str) -> None:
    """An order refunded, or completed again."""
    record["state"] = "refunded" if record["state"] == "complete" else "complete"


def build_subscription(rng: Rng, row: Row) -> Record:
    """A subscription and its recurring price."""
    return {
        "id": row.id,
        "name": f"{rng.pick(vocab.ADJECTIVES)} Membership",
        "frequency": rng.pick(("weekly", "monthly", "monthly", "quarterly", "yearly")),
        "recurring_price": str(rng.money(3, 60)),
        "trial_price": rng.maybe("0.00", 0.6),
        "currency_code": rng.pick(_CURRENCIES),
        "components": {"product_ids": rng.array(lambda: _product_ids(rng, row), p_empty=0.1)},
        "created_at": row.created,
        "updated_at": row.modified,
    }


def touch_subscription(rng: Rng, record: Record, _now: str) -> None:
    """A new recurring price."""
    record["recurring_price"] = str(rng.money(3, 60))


_DATED: Timing = {"created": "created_at", "modified": "updated_at", "resolution_ms": 1000}

STREAMS = (
    StreamSpec(
        API,
        "products",
        250,
        build_product,
        touch_product,
        fmt=utc_seconds_z,
        ids=IntIds(100),
        **_DATED,
    ),
    StreamSpec(
        API,
        "packages",
        120,
        build_package,
        touch_package,
        fmt=utc_seconds_z,
        ids=IntIds(5_000),
        **_DATED,
    ),
    StreamSpec(
        API,
        "orders",
        2500,
        build_order,
        touch_order,
        fmt=utc_seconds_z,
        ids=IntIds(1_000_000),
        **_DATED,
    ),
    StreamSpec(
        API,
        "subscriptions",
        150,
        build_subscription,
        touch_subscription,
        fmt=utc_seconds_z,
        ids=IntIds(9_000),
        **_DATED,
    ),
)
