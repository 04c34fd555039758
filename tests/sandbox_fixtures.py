"""Helpers for test_sandbox.py: the contract's field lists, written out independently of
the sandbox's generators, and thin request helpers per API."""

from __future__ import annotations

import decimal
import json
import re
from typing import Any

import requests

# contract §2: every field of every stream (child rows without the tap-added prd_id).
CONTRACT_FIELDS: dict[str, tuple[str, ...]] = {
    "storefront.inventory": ("id", "variantId", "sku", "descriptor", "isUnlimited", "quantity"),
    "storefront.orders": (
        "id",
        "orderNumber",
        "createdOn",
        "modifiedOn",
        "channel",
        "testmode",
        "customerEmail",
        "billingAddress",
        "shippingAddress",
        "fulfillmentStatus",
        "fulfilledOn",
        "lineItems",
        "shippingLines",
        "discountLines",
        "subtotal",
        "shippingTotal",
        "discountTotal",
        "taxTotal",
        "refundedTotal",
        "grandTotal",
    ),
    "storefront.store_pages": ("id", "title", "isEnabled", "urlSlug"),
    "storefront.products": (
        "id",
        "type",
        "storePageId",
        "name",
        "description",
        "url",
        "urlSlug",
        "tags",
        "isVisible",
        "createdOn",
        "modifiedOn",
        "variants",
    ),
    "storefront.transactions": (
        "id",
        "createdOn",
        "modifiedOn",
        "customerEmail",
        "salesOrderId",
        "voided",
        "total",
        "totalSales",
        "totalNetSales",
        "totalTaxes",
        "totalNetPayment",
        "payments",
    ),
    "storefront.profiles": (
        "id",
        "firstName",
        "lastName",
        "email",
        "hasAccount",
        "isCustomer",
        "createdOn",
        "acceptsMarketing",
        "address",
        "transactionsSummary",
    ),
    "payments.order_payments": (
        "id",
        "order_id",
        "customer_id",
        "amount",
        "currency",
        "payment_type",
        "card_type",
        "last_four",
        "is_approved",
        "is_declined",
        "is_captured",
        "is_void",
        "transaction_id",
        "paid_at",
        "created_at",
        "updated_at",
    ),
    "payments.products": (
        "id",
        "product_id",
        "name",
        "price",
        "cost",
        "quantity_on_hand",
        "is_hidden",
        "is_discontinued",
        "primary_category_id",
        "weight",
        "created_at",
        "updated_at",
    ),
    "shop.countries": ("id", "iso", "name"),
    "shop.pages": ("id", "title", "slug", "url", "meta_title", "created_at_utc"),
    "shop.products": (
        "id",
        "title",
        "description",
        "sku",
        "active",
        "stock",
        "price",
        "sale_price",
        "cost_price",
        "weight",
        "slug",
        "url",
        "created_at_utc",
        "updated_at_utc",
    ),
    "shop.products_images": ("id", "url", "description", "sort_order"),
    "shop.product_options": ("id", "name", "values"),
    "shop.products_reviews": ("id", "name", "content", "rating", "active", "created_at_utc"),
    "shop.products_variations": ("id", "sku", "stock", "price", "sale_price", "weight", "values"),
    "shop.choice_sets": ("id", "internal_name", "display_name", "values"),
    "shop.customers": (
        "id",
        "email",
        "first_name",
        "last_name",
        "company_name",
        "city",
        "postcode",
        "country_id",
        "phone",
        "trade",
        "active",
        "accepts_marketing",
        "created_at_utc",
    ),
    "shop.orders": (
        "id",
        "reference",
        "status",
        "billing_address",
        "shipping_address",
        "payment_method",
        "sub_total",
        "shipping_total",
        "total",
        "products",
        "customer_id",
        "created_at_utc",
    ),
    "shop.shipping_zones": ("uuid", "name", "country_ids", "vat"),
    "shop.events": ("id", "topic", "subject_type", "subject_id", "data", "created_at_utc"),
    "shop.categories": (
        "id",
        "title",
        "slug",
        "url",
        "active",
        "featured",
        "sort_order",
        "created_at_utc",
    ),
    "shop.themes": ("id", "title", "live", "preview_url", "created_at_utc"),
    "digital.products": (
        "id",
        "name",
        "product_type",
        "price",
        "currency_code",
        "sales_limit",
        "pdf_stamping",
        "self_hosted_url",
        "product_image_url",
        "created_at",
        "updated_at",
    ),
    "digital.packages": (
        "id",
        "name",
        "price",
        "currency_code",
        "components",
        "created_at",
        "updated_at",
    ),
    "digital.orders": (
        "id",
        "state",
        "gateway",
        "buyer_email",
        "buyer_name",
        "price_at_checkout",
        "settled_currency",
        "settled_gross",
        "settled_gateway_fee",
        "download_url",
        "cart",
        "subscription_id",
        "created_at",
        "updated_at",
    ),
    "digital.subscriptions": (
        "id",
        "name",
        "frequency",
        "recurring_price",
        "trial_price",
        "currency_code",
        "components",
        "created_at",
        "updated_at",
    ),
    "orders.orders": (
        "order_id",
        "creation_date",
        "last_modified_date",
        "order_fulfillment_status",
        "order_payment_status",
        "seller_id",
        "buyer",
        "pricing_summary",
        "line_items",
        "cancel_status",
        "sales_record_reference",
    ),
}

# contract §2: each API's timestamp format.
TIMESTAMP_FORMATS = {
    "storefront": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"),
    "payments": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$"),
    "shop": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$"),
    "digital": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"),
    "orders": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"),
}


def parse(response: requests.Response) -> Any:
    """A response body as the tap reads it: decimals exact."""
    return json.loads(response.content, parse_float=decimal.Decimal)


def storefront_get(sb, path: str, params=None, headers=None, **kw) -> requests.Response:
    config = sb.config("storefront")
    base_headers = {
        "Authorization": f"Bearer {config['api_key']}",
        "User-Agent": "tap-commerce/test",
    }
    base_headers.update(headers or {})
    return requests.get(
        config["base_url"] + path.lstrip("/"), params=params, headers=base_headers, **kw
    )


def payments_get(sb, path: str, params=None, **kw) -> requests.Response:
    config = sb.config("payments")
    return requests.get(
        config["base_url"] + path.lstrip("/"),
        params={"api_key": config["api_key"], **(params or {})},
        **kw,
    )


def shop_get(sb, path: str, params=None, auth=None, **kw) -> requests.Response:
    config = sb.config("shop")
    auth = auth or (config["api_key"], config["api_secret"])
    return requests.get(config["base_url"] + path.lstrip("/"), params=params, auth=auth, **kw)


def digital_get(
    sb, path: str, params=None, accept="application/json", auth=None, **kw
) -> requests.Response:
    config = sb.config("digital")
    auth = auth or (config["username"], config["password"])
    headers = {"Accept": accept} if accept is not None else {"Accept": None}
    return requests.get(
        config["base_url"] + path.lstrip("/"), params=params, auth=auth, headers=headers, **kw
    )


def orders_token(sb, scope: str | None = None) -> str:
    config = sb.config("orders")
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    response = requests.post(
        config["token_url"], data=form, auth=(config["client_id"], config["client_secret"])
    )
    response.raise_for_status()
    return response.json()["access_token"]


def orders_get(sb, params=None, token: str | None = None, **kw) -> requests.Response:
    config = sb.config("orders")
    token = token or orders_token(sb)
    return requests.get(
        config["base_url"] + "v1/orders",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        **kw,
    )


def follow_storefront(sb, path: str, params=None) -> list[dict]:
    """Every page of a storefront list, following nextPageUrl verbatim; returns the pages."""
    pages = []
    response = storefront_get(sb, path, params)
    while True:
        assert response.status_code == 200, response.text
        body = parse(response)
        pages.append(body)
        next_url = body["pagination"]["nextPageUrl"]
        if not next_url:
            return pages
        response = requests.get(
            next_url,
            headers={
                "Authorization": f"Bearer {sb.config('storefront')['api_key']}",
                "User-Agent": "tap-commerce/test",
            },
        )
