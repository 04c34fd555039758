"""shop data (contract §2.3): integer ids (child rows unique across all products), decimal
numbers for prices, totals and weights, naive UTC timestamps ``2024-03-01T12:00:00``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tap_commerce_sandbox.timefmt import naive_utc

from . import vocab
from .common import address, description_html, person, product_name, sku, slugify
from .ids import IntIds, SequentialIds, UuidIds
from .tables import Row, StreamSpec

if TYPE_CHECKING:
    from collections.abc import Callable

    from typing_extensions import Unpack

    from .rand import Rng
    from .tables import Record, SpecOptions

API = "shop"
_SITE = "https://demo-shop.example"
_ZERO = Decimal("0.00")
# Weights at the 1e-4 scale a float would print as 1e-04.
_TINY_WEIGHTS = (Decimal("0.0001"), Decimal("0.0005"), Decimal("0.0025"))

_ZONE_NAMES = ("Domestic", "Europe", "Rest of world", "Islands")
ORDER_STATUSES = (
    (1, "Awaiting payment"),
    (2, "Paid"),
    (3, "Dispatched"),
    (4, "Cancelled"),
    (5, "Refunded"),
)


def _weight(rng: Rng) -> Decimal | None:
    if rng.chance(0.1):
        return rng.pick(_TINY_WEIGHTS)
    return rng.maybe(rng.money(0.05, 12, places=3), 0.1)


# countries (reference data: one page, fixed list) --------------------------------------


def build_country(_rng: Rng, row: Row) -> Record:
    """A country of the fixed list: its ISO code and name."""
    iso, name = vocab.COUNTRIES[row.index % len(vocab.COUNTRIES)]
    return {"id": row.id, "iso": iso, "name": name}


# pages --------------------------------------------------------------------------------


def build_page(rng: Rng, row: Row) -> Record:
    """A content page with its slug and URL."""
    title = rng.pick(vocab.PAGE_TITLES)
    slug = f"{slugify(title)}-{row.index}"
    return {
        "id": row.id,
        "title": title,
        "slug": slug,
        "url": f"{_SITE}/pages/{slug}",
        "meta_title": rng.maybe(f"{title} | Demo Shop", 0.3),
        "created_at_utc": row.created,
    }


def touch_page(_rng: Rng, record: Record, _now: str) -> None:
    """An edit: the meta title changes."""
    record["meta_title"] = f"{record['title']} | Demo Shop (updated)"


# products and their children ----------------------------------------------------------


def build_product(rng: Rng, row: Row) -> Record:
    """A product: price (sometimes on sale), stock, weight and its URLs."""
    title = product_name(rng)
    slug = f"{slugify(title)}-{row.index}"
    price = rng.money(3, 250)
    return {
        "id": row.id,
        "title": title,
        "description": rng.maybe(description_html(rng), 0.15),
        "sku": rng.maybe(sku(rng, "SHP"), 0.05),
        "active": rng.chance(0.9),
        "stock": rng.between(0, 500),
        "price": price,
        "sale_price": (price * Decimal("0.85")).quantize(Decimal("0.01"))
        if rng.chance(0.2)
        else None,
        "cost_price": rng.maybe((price * Decimal("0.4")).quantize(Decimal("0.01")), 0.3),
        "weight": _weight(rng),
        "slug": slug,
        "url": f"{_SITE}/products/{slug}",
        "created_at_utc": row.created,
        "updated_at_utc": row.modified,
    }


def touch_product(rng: Rng, record: Record, _now: str) -> None:
    """An update: new stock, and the product switched on or off."""
    record["stock"] = rng.between(0, 500)
    record["active"] = not record["active"]


def build_image(rng: Rng, row: Row) -> Record:
    """An image of the parent product."""
    parent = row.parent_record
    slug = parent["slug"]
    return {
        "id": row.id,
        "url": f"https://cdn.demo-shop.example/img/{slug}/{row.id}.jpg",
        "description": rng.maybe(f"{parent['title']} — view {rng.between(1, 9)}", 0.3),
        "sort_order": rng.between(0, 8),
    }


def touch_image(rng: Rng, record: Record, _now: str) -> None:
    """An update: the image moves in the sort order."""
    record["sort_order"] = rng.between(0, 8)


def build_review(rng: Rng, row: Row) -> Record:
    """A review of the parent product."""
    return {
        "id": row.id,
        "name": rng.maybe(person(rng).first, 0.1),
        "content": rng.pick(vocab.REVIEW_PHRASES),
        "rating": rng.between(1, 5),
        "active": rng.chance(0.85),
        "created_at_utc": row.created,
    }


def touch_review(_rng: Rng, record: Record, _now: str) -> None:
    """A review shown or hidden."""
    record["active"] = not record["active"]


def build_option(rng: Rng, row: Row) -> Record:
    """An option of the parent product (size, colour, material) and its values."""
    name = rng.pick(vocab.OPTION_NAMES)
    pool = vocab.SIZES if name == "Size" else vocab.COLORS if name == "Color" else vocab.MATERIALS
    return {
        "id": row.id,
        "name": name,
        "values": rng.array(lambda: rng.sample(pool, rng.between(1, 4)), p_empty=0.1),
    }


def touch_option(_rng: Rng, record: Record, _now: str) -> None:
    """An option renamed."""
    record["name"] = f"{record['name']} (renamed)"


def build_variation(rng: Rng, row: Row) -> Record:
    """A variation of the parent product, priced from it."""
    parent = row.parent_record
    price = parent["price"] + rng.money(0, 15)
    return {
        "id": row.id,
        "sku": f"{parent['sku'] or 'SHP'}-{rng.pick(vocab.SIZES)}",
        "stock": rng.between(0, 120),
        "price": price,
        "sale_price": rng.maybe((price * Decimal("0.9")).quantize(Decimal("0.01")), 0.7),
        "weight": _weight(rng),
        "values": rng.array(
            lambda: [
                {"id": rng.between(1, 9999), "name": rng.pick(vocab.SIZES), "option_name": "Size"},
                {
                    "id": rng.between(1, 9999),
                    "name": rng.pick(vocab.COLORS),
                    "option_name": "Color",
                },
            ][: rng.between(1, 2)],
            p_empty=0.1,
        ),
    }


def touch_variation(rng: Rng, record: Record, _now: str) -> None:
    """An update: new stock."""
    record["stock"] = rng.between(0, 120)


# the rest -----------------------------------------------------------------------------


def build_choice_set(rng: Rng, row: Row) -> Record:
    """A set of choices offered at checkout."""
    name = rng.pick(("Gift wrap", "Engraving", "Delivery slot", "Colour choice", "Size choice"))
    return {
        "id": row.id,
        "internal_name": f"{slugify(name)}-{row.index}",
        "display_name": rng.maybe(name, 0.1),
        "values": rng.array(lambda: rng.sample(vocab.COLORS, rng.between(1, 4))),
    }


def touch_choice_set(_rng: Rng, record: Record, _now: str) -> None:
    """A choice set's display name edited."""
    record["display_name"] = f"{record['display_name'] or 'Choice'} (updated)"


def build_customer(rng: Rng, row: Row) -> Record:
    """A customer, with the country of their address."""
    who, a = person(rng), address(rng)
    return {
        "id": row.id,
        "email": who.email,
        "first_name": who.first,
        "last_name": who.last,
        "company_name": rng.maybe(f"{who.last} {rng.pick(('Ltd', 'GmbH', 'LLC', '& Co'))}", 0.75),
        "city": rng.maybe(a.city, 0.05),
        "postcode": rng.maybe(a.postal, 0.05),
        "country_id": rng.maybe(row.refs.pick_id(rng, "countries"), 0.05),
        "phone": a.phone,
        "trade": rng.chance(0.1),
        "active": rng.chance(0.95),
        "accepts_marketing": rng.chance(0.4),
        "created_at_utc": row.created,
    }


def touch_customer(_rng: Rng, record: Record, _now: str) -> None:
    """A customer's marketing consent toggled."""
    record["accepts_marketing"] = not record["accepts_marketing"]


def _order_address(rng: Rng, name: str, email: str) -> Record:
    a = address(rng)
    return {
        "name": name,
        "email_address": email,
        "address_line1": a.line1,
        "city": a.city,
        "postcode": a.postal,
        "country": a.country,
    }


def build_order(rng: Rng, row: Row) -> Record:
    """An order of one to four products, with its totals and addresses."""
    who = person(rng)
    lines: list[Record] = []
    for _ in range(rng.between(1, 4)):
        product = row.refs.pick_original(rng, "products") or {}
        quantity = rng.between(1, 3)
        price = product.get("price") or rng.money(3, 250)
        lines.append(
            {
                "id": product.get("id"),
                "title": product.get("title"),
                "sku": product.get("sku"),
                "quantity": quantity,
                "price": price,
                "total": price * quantity,
            }
        )
    sub_total = sum((line["total"] for line in lines), _ZERO)
    shipping = rng.pick((_ZERO, Decimal("3.95"), Decimal("4.99"), Decimal("12.50")))
    status_id, status_name = rng.pick(ORDER_STATUSES)
    billing = _order_address(rng, f"{who.first} {who.last}", who.email)
    return {
        "id": row.id,
        "reference": 100_000 + row.index,
        "status": {"id": status_id, "name": status_name},
        "billing_address": billing,
        "shipping_address": rng.maybe(
            billing
            if rng.chance(0.7)
            else _order_address(rng, f"{who.first} {who.last}", who.email),
            0.05,
        ),
        "payment_method": rng.pick(("card", "paypal", "bank_transfer", "cash_on_delivery")),
        "sub_total": sub_total,
        "shipping_total": shipping,
        "total": sub_total + shipping,
        "products": lines,
        "customer_id": rng.maybe(row.refs.pick_id(rng, "customers"), 0.2),
        "created_at_utc": row.created,
    }


def touch_order(rng: Rng, record: Record, _now: str) -> None:
    """An order moved on to a later status."""
    status_id, status_name = rng.pick(ORDER_STATUSES[1:])
    record["status"] = {"id": status_id, "name": status_name}


def build_shipping_zone(rng: Rng, row: Row) -> Record:
    """A shipping zone and the countries it covers."""
    countries = row.refs.tables["countries"].size
    return {
        "uuid": row.id,
        "name": f"Zone {row.index + 1} — {rng.pick(_ZONE_NAMES)}",
        "country_ids": rng.array(
            lambda: sorted(rng.sample(range(1, countries + 1), rng.between(1, min(6, countries)))),
            p_empty=0.1,
        ),
        "vat": rng.chance(0.6),
    }


def touch_shipping_zone(_rng: Rng, record: Record, _now: str) -> None:
    """A zone's VAT toggled."""
    record["vat"] = not record["vat"]


_EVENT_TOPICS = (
    ("order.created", "order", "orders"),
    ("order.paid", "order", "orders"),
    ("product.updated", "product", "products"),
    ("customer.created", "customer", "customers"),
)


def build_event(rng: Rng, row: Row) -> Record:
    """A webhook event about an order, a product or a customer."""
    topic, subject_type, stream = rng.pick(_EVENT_TOPICS)
    data: Record | None
    if subject_type == "order":
        data = {"total": rng.money(5, 500), "currency": "GBP", "items": rng.between(1, 4)}
    elif subject_type == "product":
        data = {"changed": rng.sample(("price", "stock", "title", "active"), rng.between(1, 3))}
    else:
        data = {"source": rng.pick(("checkout", "admin", "import")), "newsletter": rng.chance(0.4)}
    if rng.chance(0.05):
        data = None
    elif rng.chance(0.05):
        data = {}
    return {
        "id": row.id,
        "topic": topic,
        "subject_type": subject_type,
        "subject_id": row.refs.pick_id(rng, stream),
        "data": data,
        "created_at_utc": row.created,
    }


def build_category(rng: Rng, row: Row) -> Record:
    """A product category."""
    title = f"{rng.pick(vocab.ADJECTIVES)} {rng.pick(vocab.NOUNS)}s"
    slug = f"{slugify(title)}-{row.index}"
    return {
        "id": row.id,
        "title": title,
        "slug": slug,
        "url": f"{_SITE}/c/{slug}",
        "active": rng.chance(0.9),
        "featured": rng.chance(0.15),
        "sort_order": rng.between(0, 50),
        "created_at_utc": row.created,
    }


def touch_category(_rng: Rng, record: Record, _now: str) -> None:
    """A category (un)featured."""
    record["featured"] = not record["featured"]


def build_theme(rng: Rng, row: Row) -> Record:
    """A storefront theme (the first is the live one)."""
    title = f"{rng.pick(('Aurora', 'Minimal', 'Boutique', 'Harbour', 'Atelier'))} v{row.index + 1}"
    return {
        "id": row.id,
        "title": title,
        "live": row.index == 0,
        "preview_url": rng.maybe(f"{_SITE}/?preview_theme={row.id}", 0.1),
        "created_at_utc": row.created,
    }


def touch_theme(_rng: Rng, record: Record, _now: str) -> None:
    """A theme's title edited."""
    record["title"] = f"{record['title']} (edited)"


def _spec(
    name: str,
    size: int,
    build: Callable[[Rng, Row], Record],
    touch: Callable[[Rng, Record, str], None] | None,
    **kw: Unpack[SpecOptions],
) -> StreamSpec:
    """A shop stream: naive UTC seconds, created at ``created_at_utc`` unless said otherwise."""
    kw.setdefault("ids", IntIds(1000))
    kw.setdefault("created", "created_at_utc")
    return StreamSpec(API, name, size, build, touch, fmt=naive_utc, resolution_ms=1000, **kw)


STREAMS = (
    _spec(
        "countries",
        len(vocab.COUNTRIES),
        build_country,
        None,
        created=None,
        ids=SequentialIds(1),
        fixed_size=len(vocab.COUNTRIES),
        mutable=False,
    ),
    _spec("pages", 150, build_page, touch_page),
    _spec("products", 200, build_product, touch_product, modified="updated_at_utc"),
    _spec(
        "products_images",
        0,
        build_image,
        touch_image,
        created=None,
        parent="products",
        ids=IntIds(500_000),
    ),
    _spec("choice_sets", 120, build_choice_set, touch_choice_set, created=None),
    _spec(
        "products_reviews", 0, build_review, touch_review, parent="products", ids=IntIds(600_000)
    ),
    _spec(
        "product_options",
        0,
        build_option,
        touch_option,
        created=None,
        parent="products",
        ids=IntIds(700_000),
    ),
    _spec(
        "products_variations",
        0,
        build_variation,
        touch_variation,
        created=None,
        parent="products",
        ids=IntIds(800_000),
    ),
    _spec("customers", 1200, build_customer, touch_customer),
    _spec("orders", 2000, build_order, touch_order),
    _spec(
        "shipping_zones",
        80,
        build_shipping_zone,
        touch_shipping_zone,
        created=None,
        key="uuid",
        ids=UuidIds(),
    ),
    _spec("events", 3000, build_event, None),  # an event log never changes
    _spec("categories", 150, build_category, touch_category),
    _spec("themes", 40, build_theme, touch_theme),
)
