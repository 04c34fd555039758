"""orders data (contract §2.5): ``order_id`` like ``12-34567-89012``, ``Amount`` =
``{currency, value}`` with a decimal string, timestamps ``2024-03-01T12:00:00.000Z``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tap_commerce_sandbox.timefmt import utc_millis_z

from .common import cents, person, product_name, sku, slugify
from .ids import OrderNumberIds
from .tables import Row, StreamSpec

if TYPE_CHECKING:
    from .rand import Rng
    from .tables import Record

API = "orders"
SELLER_ID = "sandbox_seller"


def amount(value: Decimal, currency: str) -> Record:
    """A money object of the API: currency and the amount in cents, as text."""
    return {"currency": currency, "value": str(cents(value))}


def build_order(rng: Rng, row: Row) -> Record:
    """An order with its line items, amounts and statuses."""
    currency = rng.pick(("USD", "USD", "GBP", "EUR"))
    lines, subtotal = [], Decimal("0.00")
    for _ in range(rng.between(1, 3)):
        quantity = rng.between(1, 4)
        cost = rng.money(2, 300) * quantity
        subtotal += cost
        lines.append(
            {
                "line_item_id": rng.digits(14).lstrip("0") or "1",
                "sku": rng.maybe(sku(rng, "LI"), 0.2),
                "title": product_name(rng),
                "quantity": quantity,
                "line_item_cost": amount(cost, currency),
            }
        )
    delivery = rng.pick((Decimal("0.00"), Decimal("4.99"), Decimal("9.90")))
    payment = rng.pick(("PAID", "PAID", "PAID", "PENDING", "FAILED", "FULLY_REFUNDED"))
    buyer = person(rng)
    return {
        "order_id": row.id,
        "creation_date": row.created,
        "last_modified_date": row.modified,
        "order_fulfillment_status": rng.pick(
            ("NOT_STARTED", "IN_PROGRESS", "FULFILLED", "FULFILLED")
        ),
        "order_payment_status": payment,
        "seller_id": SELLER_ID,
        "buyer": {
            "username": slugify(f"{buyer.first} {buyer.last}").replace("-", "_") + rng.digits(3)
        },
        "pricing_summary": {
            "price_subtotal": amount(subtotal, currency),
            "delivery_cost": amount(delivery, currency),
            "total": amount(subtotal + delivery, currency),
        },
        "line_items": rng.array(lambda: lines, p_empty=0.02, p_null=0.01),
        "cancel_status": rng.maybe(
            {"cancel_state": rng.pick(("NONE_REQUESTED", "NONE_REQUESTED", "CANCELED"))}, 0.05
        ),
        "sales_record_reference": rng.maybe(str(10_000 + row.index), 0.2),
    }


def touch_order(_rng: Rng, record: Record, _now: str) -> None:
    """An order fulfilled, or if it was already, cancelled."""
    if record["order_fulfillment_status"] != "FULFILLED":
        record["order_fulfillment_status"] = "FULFILLED"
    else:
        record["cancel_status"] = {"cancel_state": "CANCELED"}


STREAMS = (
    StreamSpec(
        API,
        "orders",
        3000,
        build_order,
        touch_order,
        fmt=utc_millis_z,
        ids=OrderNumberIds(),
        key="order_id",
        created="creation_date",
        modified="last_modified_date",
        modified_share=0.5,
    ),
)
