"""payments data (contract §2.2): integer ids, decimal numbers with up to 4 places,
timestamps in the merchant's local time with its offset (``...127-05:00``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tap_commerce_sandbox.timefmt import us_eastern_millis

from .common import product_name
from .ids import IntIds
from .tables import Row, StreamSpec

if TYPE_CHECKING:
    from .rand import Rng
    from .tables import Record, TimeFields

API = "payments"

# Values a float would spoil: more than 15 significant digits, and trailing zeros.
_EDGE_AMOUNTS = (
    Decimal("1234567890123.4567"),
    Decimal("0.1000"),
    Decimal("0.0001"),
    Decimal("99999999999999.9999"),
)


#: shares of amounts that are edge values, and (up to) that have four decimal places
_EDGE_SHARE, _FOUR_PLACES_SHARE = 0.02, 0.35


def _amount(rng: Rng) -> Decimal:
    x = rng.random()
    if x < _EDGE_SHARE:
        return rng.pick(_EDGE_AMOUNTS)
    if x < _FOUR_PLACES_SHARE:
        return rng.money(0.5, 900, places=4)  # four places, trailing zeros kept
    return rng.money(0.5, 900, places=2)


def build_order_payment(rng: Rng, row: Row) -> Record:
    """A card or other payment of an order, amounts exact to four places."""
    payment_type = rng.pick(
        ("credit_card", "credit_card", "credit_card", "paypal", "ach", "gift_card")
    )
    card = payment_type == "credit_card"
    declined = rng.chance(0.06)
    void = not declined and rng.chance(0.03)
    return {
        "id": row.id,
        "order_id": 50_000 + 2 * row.index + rng.between(0, 1),
        "customer_id": rng.maybe(rng.between(1, 9_999), 0.08),
        "amount": _amount(rng),
        "currency": rng.pick(("USD", "USD", "USD", "CAD", "EUR")),
        "payment_type": payment_type,
        "card_type": rng.pick(("visa", "mastercard", "amex", "discover")) if card else None,
        "last_four": rng.digits(4) if card else None,
        "is_approved": not declined,
        "is_declined": declined,
        "is_captured": not declined and rng.chance(0.9),
        "is_void": void,
        "transaction_id": f"txn_{rng.hex(20)}",
        "paid_at": None if declined else row.at(row.between(rng)),
        "created_at": row.created,
        "updated_at": row.modified,
    }


def touch_order_payment(_rng: Rng, record: Record, _now: str) -> None:
    """A payment captured, or voided."""
    if record["is_approved"] and not record["is_captured"]:
        record["is_captured"] = True
    else:
        record["is_void"] = True


def build_product(rng: Rng, row: Row) -> Record:
    """A product of the merchant's catalogue."""
    price = rng.money(2, 400)
    return {
        "id": row.id,
        "product_id": f"ITEM-{row.index + 1:06d}",
        "name": product_name(rng),
        "price": price,
        "cost": rng.maybe((price * Decimal("0.45")).quantize(Decimal("0.0001")), 0.1),
        "quantity_on_hand": rng.between(0, 900),
        "is_hidden": rng.chance(0.08),
        "is_discontinued": rng.chance(0.05),
        "primary_category_id": rng.maybe(rng.between(1, 40), 0.1),
        # Small weights at 1e-4 resolution, e.g. 0.0001 kg.
        "weight": rng.maybe(rng.money(0.0001, 25, places=4), 0.1),
        "created_at": row.created,
        "updated_at": row.modified,
    }


def touch_product(rng: Rng, record: Record, _now: str) -> None:
    """New stock and price."""
    record["quantity_on_hand"] = rng.between(0, 900)
    record["price"] = rng.money(2, 400)


_DATED: TimeFields = {"created": "created_at", "modified": "updated_at"}

STREAMS = (
    StreamSpec(
        API,
        "order_payments",
        3000,
        build_order_payment,
        touch_order_payment,
        fmt=us_eastern_millis,
        ids=IntIds(100_000),
        **_DATED,
    ),
    StreamSpec(
        API,
        "products",
        400,
        build_product,
        touch_product,
        fmt=us_eastern_millis,
        ids=IntIds(10),
        **_DATED,
    ),
)
