"""storefront data (contract §2.1): string ids, ``Money`` = ``{currency, value}`` with a
decimal string, timestamps ``2024-03-01T12:00:00.123Z``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tap_commerce_sandbox.timefmt import utc_millis_z

from . import vocab
from .common import address, cents, description_html, person, product_name, sku, slugify
from .ids import HexIds
from .rand import Rng, mix64
from .tables import Record, Row, StreamSpec, Table

if TYPE_CHECKING:
    from collections.abc import Callable

    from typing_extensions import Unpack

    from .tables import TimeFields

API = "storefront"
CURRENCY = "USD"
_ZERO = Decimal("0.00")
_TAX_RATE = Decimal("0.0825")


def money(value: Decimal) -> Record:
    """A money object of the API: currency and the amount in cents, as text."""
    return {"currency": CURRENCY, "value": str(cents(value))}


def _variant_id(products: Table, product_index: int, k: int) -> str:
    """Variant ids derive from the product's index so inventory can point at them."""
    return HexIds().make(products.salt ^ 0x5A17, product_index * 8 + k)


def _variant_count(products: Table, product_index: int) -> int:
    h = mix64(products.salt ^ (product_index << 5) ^ 0x77)
    return 0 if h % 10 == 0 else 1 + h % 4  # one product in ten has no variants ([])


def _address(rng: Rng, first: str, last: str) -> Record:
    a = address(rng)
    return {
        "firstName": first,
        "lastName": last,
        "address1": a.line1,
        "address2": a.line2,
        "city": a.city,
        "state": a.state,
        "countryCode": a.country,
        "postalCode": a.postal,
        "phone": a.phone,
    }


# inventory ----------------------------------------------------------------------------


def build_inventory(rng: Rng, row: Row) -> Record:
    """The stock of one product variant."""
    products = row.refs.tables["products"]
    j = int(rng.random() * products.size) if products.size else 0
    count = _variant_count(products, j) if products.size else 0
    unlimited = rng.chance(0.1)
    color, size = rng.pick(vocab.COLORS), rng.pick(vocab.SIZES)
    return {
        "id": row.id,
        "variantId": _variant_id(products, j, rng.between(0, count - 1)) if count else None,
        "sku": rng.maybe(sku(rng), 0.05),
        "descriptor": f"{product_name(rng)} [{color}, {size}]",
        "isUnlimited": unlimited,
        "quantity": 0 if unlimited else rng.between(0, 400),
    }


def touch_inventory(rng: Rng, record: Record, _now: str) -> None:
    """A stock change (unlimited stock stays so)."""
    if not record["isUnlimited"]:
        record["quantity"] = max(0, record["quantity"] + rng.between(-20, 50))


# orders -------------------------------------------------------------------------------


def _line_item(rng: Rng, row: Row) -> tuple[Record, Decimal]:
    product = row.refs.pick_original(rng, "products")
    variants = (product or {}).get("variants") or []
    if variants:
        v = rng.pick(variants)
        price = Decimal(v["pricing"]["basePrice"]["value"])
        variant_id, item_sku = v["id"], v["sku"]
        options = [{"optionName": k, "value": val} for k, val in v["attributes"].items()]
    else:
        price, variant_id, item_sku, options = rng.money(4, 120), None, None, []
    quantity = rng.between(1, 3)
    item = {
        "id": rng.hex(24),
        "variantId": variant_id,
        "sku": item_sku,
        "productId": product["id"] if product else None,
        "productName": product["name"] if product else product_name(rng),
        "quantity": quantity,
        "unitPricePaid": money(price),
        "variantOptions": rng.maybe(options, 0.05),
    }
    return item, price * quantity


def build_order(rng: Rng, row: Row) -> Record:
    """An order of one to four line items, with its totals and addresses."""
    buyer = person(rng)
    items, amounts = zip(*(_line_item(rng, row) for _ in range(rng.between(1, 4))), strict=True)
    subtotal = sum(amounts, _ZERO)
    shipping: list[Record] | None = rng.array(
        lambda: [
            {
                "method": rng.pick(("Standard", "Express", "Pickup")),
                "amount": money(rng.money(0, 25)),
            }
        ],
        p_empty=0.2,
        p_null=0.03,
    )
    discounts: list[Record] | None = rng.array(
        lambda: [
            {
                "name": "Welcome offer",
                "promoCode": rng.maybe("WELCOME10", 0.3),
                "amount": money(subtotal * Decimal("0.10")),
            }
        ],
        p_empty=0.75,
        p_null=0.03,
    )
    shipping_total = sum((Decimal(s["amount"]["value"]) for s in shipping or ()), _ZERO)
    discount_total = sum((Decimal(d["amount"]["value"]) for d in discounts or ()), _ZERO)
    tax = cents((subtotal - discount_total) * _TAX_RATE)
    status = rng.pick(("PENDING", "FULFILLED", "FULFILLED", "FULFILLED", "CANCELED"))
    shipping_address = rng.maybe(_address(rng, buyer.first, buyer.last), 0.1)
    return {
        "id": row.id,
        "orderNumber": str(1000 + row.index),
        "createdOn": row.created,
        "modifiedOn": row.modified,
        "channel": rng.pick(("web", "web", "web", "pos", "api")),
        "testmode": rng.chance(0.03),
        "customerEmail": rng.maybe(buyer.email, 0.05),
        "billingAddress": _address(rng, buyer.first, buyer.last),
        "shippingAddress": shipping_address,
        "fulfillmentStatus": status,
        "fulfilledOn": row.at(row.between(rng)) if status == "FULFILLED" else None,
        "lineItems": list(items),
        "shippingLines": shipping,
        "discountLines": discounts,
        "subtotal": money(subtotal),
        "shippingTotal": money(shipping_total),
        "discountTotal": money(discount_total),
        "taxTotal": money(tax),
        "refundedTotal": money(_ZERO),
        "grandTotal": money(subtotal + shipping_total - discount_total + tax),
    }


def touch_order(_rng: Rng, record: Record, now: str) -> None:
    """An order fulfilled, or if it was already, refunded."""
    if record["fulfillmentStatus"] == "PENDING":
        record["fulfillmentStatus"], record["fulfilledOn"] = "FULFILLED", now
    else:
        record["refundedTotal"] = dict(record["grandTotal"])


# store pages --------------------------------------------------------------------------


def build_store_page(rng: Rng, row: Row) -> Record:
    """A page of the store."""
    title = rng.pick(vocab.PAGE_TITLES)
    if row.index >= len(vocab.PAGE_TITLES):
        title = f"{title} {row.index}"
    return {"id": row.id, "title": title, "isEnabled": rng.chance(0.85), "urlSlug": slugify(title)}


def touch_store_page(_rng: Rng, record: Record, _now: str) -> None:
    """A page switched on or off."""
    record["isEnabled"] = not record["isEnabled"]


# products -----------------------------------------------------------------------------


def _variant(rng: Rng, products: Table, product_index: int, k: int) -> Record:
    base = rng.money(5, 150)
    on_sale = rng.chance(0.2)
    unlimited = rng.chance(0.1)
    attributes = (
        {} if rng.chance(0.2) else {"Color": rng.pick(vocab.COLORS), "Size": rng.pick(vocab.SIZES)}
    )
    return {
        "id": _variant_id(products, product_index, k),
        "sku": sku(rng),
        "pricing": {
            "basePrice": money(base),
            "onSale": on_sale,
            "salePrice": money(base * Decimal("0.8") if on_sale else _ZERO),
        },
        "stock": {"quantity": 0 if unlimited else rng.between(0, 250), "unlimited": unlimited},
        "attributes": attributes,
    }


def build_product(rng: Rng, row: Row) -> Record:
    """A product and its variants."""
    products = row.refs.tables["products"]
    name = product_name(rng)
    slug = f"{slugify(name)}-{row.index}"
    count = _variant_count(products, row.index)
    variants = [_variant(rng, products, row.index, k) for k in range(count)]
    return {
        "id": row.id,
        "type": rng.pick(("PHYSICAL", "PHYSICAL", "PHYSICAL", "DIGITAL", "SERVICE", "GIFT_CARD")),
        "storePageId": row.refs.pick_id(rng, "store_pages"),
        "name": name,
        "description": rng.maybe(description_html(rng), 0.15),
        "url": f"https://shop.example.com/store/p/{slug}",
        "urlSlug": slug,
        "tags": rng.array(lambda: rng.sample(vocab.TAGS, rng.between(1, 3)), p_empty=0.25),
        "isVisible": rng.chance(0.9),
        "createdOn": row.created,
        "modifiedOn": row.modified,
        "variants": None if rng.chance(0.02) else variants,
    }


def touch_product(rng: Rng, record: Record, _now: str) -> None:
    """A product shown or hidden, with new stock for its variants."""
    record["isVisible"] = not record["isVisible"]
    for variant in record["variants"] or ():
        variant["stock"]["quantity"] = rng.between(0, 250)


# transactions -------------------------------------------------------------------------


def build_transaction(rng: Rng, row: Row) -> Record:
    """A payment document of an order."""
    sales = rng.money(5, 600)
    taxes = cents(sales * _TAX_RATE)
    total = sales + taxes
    fee = cents(total * Decimal("0.029") + Decimal("0.30"))

    def payment() -> Record:
        return {
            "id": rng.hex(24),
            "amount": money(total),
            "refundedAmount": money(_ZERO),
            "netAmount": money(total - fee),
            "creditCardType": rng.maybe(rng.pick(("VISA", "MASTERCARD", "AMEX", "DISCOVER")), 0.2),
            "provider": rng.pick(("STRIPE", "PAYPAL", "SQUARE")),
            "paidOn": row.created,
        }

    return {
        "id": row.id,
        "createdOn": row.created,
        "modifiedOn": row.modified,
        "customerEmail": rng.maybe(person(rng).email, 0.1),
        "salesOrderId": rng.maybe(row.refs.pick_id(rng, "orders"), 0.15),
        "voided": rng.chance(0.03),
        "total": money(total),
        "totalSales": money(sales),
        "totalNetSales": money(sales),
        "totalTaxes": money(taxes),
        "totalNetPayment": money(total - fee),
        "payments": rng.array(lambda: [payment()], p_empty=0.05, p_null=0.02),
    }


def touch_transaction(_rng: Rng, record: Record, _now: str) -> None:
    """A transaction voided."""
    record["voided"] = True


# profiles -----------------------------------------------------------------------------


def build_profile(rng: Rng, row: Row) -> Record:
    """A customer or subscriber profile."""
    who = person(rng)
    is_customer = rng.chance(0.7)
    a = address(rng)
    return {
        "id": row.id,
        "firstName": rng.maybe(who.first, 0.05),
        "lastName": rng.maybe(who.last, 0.05),
        "email": who.email,
        "hasAccount": rng.chance(0.5),
        "isCustomer": is_customer,
        "createdOn": row.created,
        "acceptsMarketing": rng.chance(0.4),
        "address": rng.maybe(
            {
                "address1": a.line1,
                "address2": a.line2,
                "city": a.city,
                "state": a.state,
                "countryCode": a.country,
                "postalCode": a.postal,
            },
            0.3,
        ),
        "transactionsSummary": {
            "orderCount": rng.between(1, 12),
            "totalOrderAmount": money(rng.money(10, 2500)),
        }
        if is_customer
        else None,
    }


def touch_profile(_rng: Rng, record: Record, _now: str) -> None:
    """A profile's marketing consent toggled."""
    record["acceptsMarketing"] = not record["acceptsMarketing"]


def _spec(
    name: str,
    size: int,
    build: Callable[[Rng, Row], Record],
    touch: Callable[[Rng, Record, str], None] | None,
    **kw: Unpack[TimeFields],
) -> StreamSpec:
    """A storefront stream: hex ids, timestamps to the millisecond."""
    return StreamSpec(API, name, size, build, touch, fmt=utc_millis_z, ids=HexIds(), **kw)


_DATED: TimeFields = {"created": "createdOn", "modified": "modifiedOn"}

STREAMS = (
    _spec("inventory", 600, build_inventory, touch_inventory),
    _spec("orders", 1500, build_order, touch_order, **_DATED),
    _spec("store_pages", 120, build_store_page, touch_store_page),
    _spec("products", 300, build_product, touch_product, **_DATED),
    _spec("transactions", 1500, build_transaction, touch_transaction, **_DATED),
    _spec("profiles", 800, build_profile, touch_profile, created="createdOn"),
)
