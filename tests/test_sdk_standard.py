"""singer-sdk's standard tap tests for each of the five APIs, against mocked HTTP.

`get_tap_test_class` builds one test class per API (`TestStorefrontStandard`, ...). Its
class-scoped ``runner`` fixture syncs the tap once per class (a dry run capped at 150
records per stream; our data is far smaller, so it is a complete sync) and every standard
test reads that run's output. Nothing reaches the network: a module-scoped, autouse
`requests_mock.Mocker` (the function-scoped ``requests_mock`` fixture would not be active
while the class-scoped runner runs) answers every request with small fakes of contract §2:
the real paths, envelopes, pagination, auth and error shapes, with bad requests answered
400/401/406 the way the contract says the APIs answer them.

The data is deterministic: 2-3 records per stream, every field of the stream's schema
present with a value of the right type (date-times in the API's own format), nulls in
some nullable fields but never null in all records of a stream (the SDK's attribute tests
warn, and warnings are errors here, when a field has no non-null value to test). Every API
has at least one list that spans more than one page (storefront's server page size is 2
here; the others run with ``page_size: 2``).

The SDK's own `StreamPrimaryKeysTest` is vacuous (it puts generator objects in a set), so
each class also has `test_primary_keys_unique_and_complete`: for every stream, every
record carries its key fields non-null, no key occurs twice, and the emitted keys are
exactly the keys of the mocked dataset (nothing lost across pages, nothing duplicated).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import typing as t
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests_mock
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_commerce.tap import TapCommerce

if t.TYPE_CHECKING:
    from singer_sdk.testing.runners import TapTestRunner

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"

# Tiny waits: a retry (there should be none) never sleeps for long.
FAST = {
    "start_date": "2020-01-01T00:00:00Z",
    "backoff_factor": 0.001,
    "max_retry_wait": 0.05,
    "requests_per_second": 0,
}

STOREFRONT_BASE = "https://storefront.test/1.0/"
PAYMENTS_BASE = "https://payments.test"
SHOP_BASE = "https://shop.test"
DIGITAL_BASE = "https://digital.test/v1/"
ORDERS_BASE = "https://orders.test"
ORDERS_TOKEN_URL = "https://orders.test/identity/v1/oauth2/token"

CONFIGS: dict[str, dict[str, t.Any]] = {
    "storefront": {
        "api": "storefront",
        "base_url": STOREFRONT_BASE,
        "api_key": "fake-api-key",
        **FAST,
    },
    "payments": {
        "api": "payments",
        "base_url": PAYMENTS_BASE,
        "api_key": "fake-api-key",
        "page_size": 2,
        **FAST,
    },
    "shop": {
        "api": "shop",
        "base_url": SHOP_BASE,
        "api_key": "fake-api-key",
        "api_secret": "fake-api-secret",
        "page_size": 2,
        **FAST,
    },
    "digital": {
        "api": "digital",
        "base_url": DIGITAL_BASE,
        "username": "fake-user",
        "password": "fake-password",
        "page_size": 2,
        **FAST,
    },
    "orders": {
        "api": "orders",
        "base_url": ORDERS_BASE,
        "client_id": "fake-client-id",
        "client_secret": "fake-client-secret",
        "token_url": ORDERS_TOKEN_URL,
        "page_size": 2,
        **FAST,
    },
}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def _money(value: str | None, currency: str = "USD") -> dict:
    return {"currency": currency, "value": value}


def _sf_address(first: str, city: str, *, address2: str | None = None) -> dict:
    return {
        "firstName": first,
        "lastName": "Tester",
        "address1": "1 Main St",
        "address2": address2,
        "city": city,
        "state": "NY",
        "countryCode": "US",
        "postalCode": "10001",
        "phone": "+1 555 0100",
    }


STOREFRONT: dict[str, list[dict]] = {
    "inventory": [
        {
            "id": "inv-1",
            "variantId": "var-1",
            "sku": "SKU-1",
            "descriptor": "Red mug",
            "isUnlimited": False,
            "quantity": 12,
        },
        {
            "id": "inv-2",
            "variantId": "var-2",
            "sku": "SKU-2",
            "descriptor": "Blue mug",
            "isUnlimited": True,
            "quantity": None,
        },
        {
            "id": "inv-3",
            "variantId": None,
            "sku": None,
            "descriptor": "Gift card",
            "isUnlimited": None,
            "quantity": 0,
        },
    ],
    "orders": [
        {
            "id": "ord-1",
            "orderNumber": "1001",
            "createdOn": "2024-03-01T12:00:00.123Z",
            "modifiedOn": "2024-03-01T12:30:00.123Z",
            "channel": "web",
            "testmode": False,
            "customerEmail": "a@example.test",
            "billingAddress": _sf_address("Ann", "New York", address2="Apt 4"),
            "shippingAddress": _sf_address("Ann", "New York"),
            "fulfillmentStatus": "FULFILLED",
            "fulfilledOn": "2024-03-02T08:00:00.000Z",
            "lineItems": [
                {
                    "id": "li-1",
                    "variantId": "var-1",
                    "sku": "SKU-1",
                    "productId": "prod-1",
                    "productName": "Red mug",
                    "quantity": 2,
                    "unitPricePaid": _money("10.00"),
                    "variantOptions": [{"optionName": "Colour", "value": "Red"}],
                },
            ],
            "shippingLines": [{"method": "Standard", "amount": _money("5.00")}],
            "discountLines": [{"name": "Spring", "promoCode": "SPRING", "amount": _money("2.00")}],
            "subtotal": _money("20.00"),
            "shippingTotal": _money("5.00"),
            "discountTotal": _money("2.00"),
            "taxTotal": _money("1.84"),
            "refundedTotal": _money("0.00"),
            "grandTotal": _money("24.84"),
        },
        {
            "id": "ord-2",
            "orderNumber": "1002",
            "createdOn": "2024-03-03T09:15:00.000Z",
            "modifiedOn": "2024-03-04T10:00:00.456Z",
            "channel": None,
            "testmode": True,
            "customerEmail": None,
            "billingAddress": _sf_address("Bob", "Boston"),
            "shippingAddress": None,
            "fulfillmentStatus": "PENDING",
            "fulfilledOn": None,
            "lineItems": [],
            "shippingLines": None,
            "discountLines": [],
            "subtotal": _money("0.00"),
            "shippingTotal": None,
            "discountTotal": None,
            "taxTotal": None,
            "refundedTotal": None,
            "grandTotal": _money("0.00"),
        },
        {
            "id": "ord-3",
            "orderNumber": "1003",
            "createdOn": "2024-03-05T23:59:59.999Z",
            "modifiedOn": "2024-03-06T00:00:00.001Z",
            "channel": "pos",
            "testmode": False,
            "customerEmail": "c@example.test",
            "billingAddress": None,
            "shippingAddress": _sf_address("Cy", "Chicago"),
            "fulfillmentStatus": "CANCELED",
            "fulfilledOn": None,
            "lineItems": [
                {
                    "id": "li-2",
                    "variantId": None,
                    "sku": "SKU-2",
                    "productId": "prod-2",
                    "productName": "Blue mug",
                    "quantity": 1,
                    "unitPricePaid": _money("12.50"),
                    "variantOptions": [],
                },
            ],
            "shippingLines": [],
            "discountLines": None,
            "subtotal": _money("12.50"),
            "shippingTotal": _money("0.00"),
            "discountTotal": _money("0.00"),
            "taxTotal": _money("1.00"),
            "refundedTotal": _money("13.50"),
            "grandTotal": _money("13.50"),
        },
    ],
    "store_pages": [
        {"id": "page-1", "title": "Shop", "isEnabled": True, "urlSlug": "shop"},
        {"id": "page-2", "title": None, "isEnabled": False, "urlSlug": None},
    ],
    "products": [
        {
            "id": "prod-1",
            "type": "PHYSICAL",
            "storePageId": "page-1",
            "name": "Red mug",
            "description": "<p>A red mug</p>",
            "url": "https://shop.example.test/shop/red-mug",
            "urlSlug": "red-mug",
            "tags": ["mug", "red"],
            "isVisible": True,
            "createdOn": "2024-01-10T10:00:00.000Z",
            "modifiedOn": "2024-03-01T12:00:00.123Z",
            "variants": [
                {
                    "id": "var-1",
                    "sku": "SKU-1",
                    "pricing": {
                        "basePrice": _money("10.00"),
                        "onSale": True,
                        "salePrice": _money("8.00"),
                    },
                    "stock": {"quantity": 12, "unlimited": False},
                    "attributes": {"Colour": "Red", "Size": "L"},
                },
            ],
        },
        {
            "id": "prod-2",
            "type": "DIGITAL",
            "storePageId": None,
            "name": "Blue mug",
            "description": None,
            "url": None,
            "urlSlug": "blue-mug",
            "tags": [],
            "isVisible": None,
            "createdOn": "2024-01-11T10:00:00.000Z",
            "modifiedOn": "2024-03-02T12:00:00.000Z",
            "variants": [
                {
                    "id": "var-2",
                    "sku": None,
                    "pricing": {"basePrice": _money("12.50"), "onSale": False, "salePrice": None},
                    "stock": None,
                    "attributes": None,
                },
            ],
        },
        {
            "id": "prod-3",
            "type": "SERVICE",
            "storePageId": "page-1",
            "name": "Gift wrap",
            "description": "",
            "url": "https://shop.example.test/shop/wrap",
            "urlSlug": "wrap",
            "tags": None,
            "isVisible": False,
            "createdOn": None,
            "modifiedOn": "2024-03-03T00:00:00.500Z",
            "variants": [],
        },
    ],
    "transactions": [
        {
            "id": "txn-1",
            "createdOn": "2024-03-01T12:00:00.123Z",
            "modifiedOn": "2024-03-01T12:05:00.000Z",
            "customerEmail": "a@example.test",
            "salesOrderId": "ord-1",
            "voided": False,
            "total": _money("24.84"),
            "totalSales": _money("23.00"),
            "totalNetSales": _money("21.00"),
            "totalTaxes": _money("1.84"),
            "totalNetPayment": _money("24.10"),
            "payments": [
                {
                    "id": "pay-1",
                    "amount": _money("24.84"),
                    "refundedAmount": _money("0.00"),
                    "netAmount": _money("24.10"),
                    "creditCardType": "VISA",
                    "provider": "STRIPE",
                    "paidOn": "2024-03-01T12:00:01.000Z",
                },
            ],
        },
        {
            "id": "txn-2",
            "createdOn": "2024-03-05T23:59:59.999Z",
            "modifiedOn": "2024-03-06T00:00:00.001Z",
            "customerEmail": None,
            "salesOrderId": None,
            "voided": True,
            "total": _money("13.50"),
            "totalSales": None,
            "totalNetSales": None,
            "totalTaxes": None,
            "totalNetPayment": None,
            "payments": [],
        },
    ],
    "profiles": [
        {
            "id": "prof-1",
            "firstName": "Ann",
            "lastName": "Tester",
            "email": "a@example.test",
            "hasAccount": True,
            "isCustomer": True,
            "createdOn": "2023-12-31T23:59:59.999Z",
            "acceptsMarketing": False,
            "address": {
                "address1": "1 Main St",
                "address2": None,
                "city": "New York",
                "state": "NY",
                "countryCode": "US",
                "postalCode": "10001",
            },
            "transactionsSummary": {"orderCount": 1, "totalOrderAmount": _money("24.84")},
        },
        {
            "id": "prof-2",
            "firstName": None,
            "lastName": None,
            "email": "newsletter@example.test",
            "hasAccount": False,
            "isCustomer": False,
            "createdOn": None,
            "acceptsMarketing": True,
            "address": None,
            "transactionsSummary": None,
        },
    ],
}

PAYMENTS: dict[str, list[dict]] = {
    "order_payments": [
        {
            "id": 1,
            "order_id": 501,
            "customer_id": 9001,
            "amount": 10.1234,
            "currency": "USD",
            "payment_type": "card",
            "card_type": "visa",
            "last_four": "4242",
            "is_approved": True,
            "is_declined": False,
            "is_captured": True,
            "is_void": False,
            "transaction_id": "tx-0001",
            "paid_at": "2024-03-01T07:00:00.127-05:00",
            "created_at": "2024-03-01T06:59:00.000-05:00",
            "updated_at": "2024-03-01T07:00:00.127-05:00",
        },
        {
            "id": 2,
            "order_id": 502,
            "customer_id": None,
            "amount": 99.5,
            "currency": "EUR",
            "payment_type": "paypal",
            "card_type": None,
            "last_four": None,
            "is_approved": False,
            "is_declined": True,
            "is_captured": None,
            "is_void": None,
            "transaction_id": None,
            "paid_at": None,
            "created_at": "2024-03-02T10:00:00.000+01:00",
            "updated_at": "2024-03-02T10:00:00.500+01:00",
        },
        {
            "id": 3,
            "order_id": None,
            "customer_id": 9003,
            "amount": 0,
            "currency": None,
            "payment_type": None,
            "card_type": "amex",
            "last_four": "0005",
            "is_approved": None,
            "is_declined": None,
            "is_captured": False,
            "is_void": True,
            "transaction_id": "tx-0003",
            "paid_at": "2024-03-03T00:00:00.000-08:00",
            "created_at": "2024-03-03T00:00:00.000-08:00",
            "updated_at": "2024-03-03T01:02:03.456-08:00",
        },
    ],
    "products": [
        {
            "id": 11,
            "product_id": "ITEM-11",
            "name": "Widget",
            "price": 19.99,
            "cost": 7.5,
            "quantity_on_hand": 40,
            "is_hidden": False,
            "is_discontinued": False,
            "primary_category_id": 3,
            "weight": 0.25,
            "created_at": "2023-11-01T09:00:00.000-05:00",
            "updated_at": "2024-03-01T07:00:00.127-05:00",
        },
        {
            "id": 12,
            "product_id": None,
            "name": "Gadget",
            "price": 5,
            "cost": None,
            "quantity_on_hand": None,
            "is_hidden": None,
            "is_discontinued": True,
            "primary_category_id": None,
            "weight": None,
            "created_at": None,
            "updated_at": "2024-03-02T07:00:00.000-05:00",
        },
        {
            "id": 13,
            "product_id": "ITEM-13",
            "name": None,
            "price": None,
            "cost": 1.1,
            "quantity_on_hand": 0,
            "is_hidden": True,
            "is_discontinued": None,
            "primary_category_id": 4,
            "weight": 2,
            "created_at": "2023-11-03T09:00:00.000+05:30",
            "updated_at": "2024-03-03T07:00:00.001+05:30",
        },
    ],
}

_SHOP_ADDRESS = {
    "name": "Ann Tester",
    "email_address": "a@example.test",
    "address_line1": "1 High St",
    "city": "London",
    "postcode": "N1 1AA",
    "country": "GB",
}

SHOP: dict[str, list[dict]] = {
    "countries": [
        {"id": 1, "iso": "GB", "name": "United Kingdom"},
        {"id": 2, "iso": "FR", "name": None},
    ],
    "pages": [
        {
            "id": 1,
            "title": "About",
            "slug": "about",
            "url": "https://shop.example.test/about",
            "meta_title": "About us",
            "created_at_utc": "2024-03-01T12:00:00",
        },
        {
            "id": 2,
            "title": "Contact",
            "slug": None,
            "url": None,
            "meta_title": None,
            "created_at_utc": "2024-03-02T12:00:00",
        },
    ],
    "products": [
        {
            "id": 101,
            "title": "Tea",
            "description": "Loose leaf",
            "sku": "TEA",
            "active": True,
            "stock": 5,
            "price": 4.5,
            "sale_price": 4.0,
            "cost_price": 1.25,
            "weight": 0.1,
            "slug": "tea",
            "url": "https://shop.example.test/tea",
            "created_at_utc": "2024-01-01T00:00:00",
            "updated_at_utc": "2024-03-01T12:00:00",
        },
        {
            "id": 102,
            "title": "Coffee",
            "description": None,
            "sku": None,
            "active": False,
            "stock": None,
            "price": 6,
            "sale_price": None,
            "cost_price": None,
            "weight": None,
            "slug": "coffee",
            "url": None,
            "created_at_utc": "2024-01-02T00:00:00",
            "updated_at_utc": "2024-03-02T12:00:00",
        },
        {
            "id": 103,
            "title": "Cocoa",
            "description": "",
            "sku": "COC",
            "active": None,
            "stock": 0,
            "price": None,
            "sale_price": 2.5,
            "cost_price": 0.5,
            "weight": 0.2,
            "slug": None,
            "url": "https://shop.example.test/cocoa",
            "created_at_utc": None,
            "updated_at_utc": "2024-03-03T12:00:00",
        },
    ],
    "choice_sets": [
        {"id": 1, "internal_name": "sizes", "display_name": "Size", "values": ["S", "M", "L"]},
        {"id": 2, "internal_name": "colours", "display_name": None, "values": []},
    ],
    "customers": [
        {
            "id": 1,
            "email": "a@example.test",
            "first_name": "Ann",
            "last_name": "Tester",
            "company_name": "Acme",
            "city": "London",
            "postcode": "N1 1AA",
            "country_id": 1,
            "phone": "+44 20 0000 0000",
            "trade": False,
            "active": True,
            "accepts_marketing": True,
            "created_at_utc": "2024-03-01T12:00:00",
        },
        {
            "id": 2,
            "email": "b@example.test",
            "first_name": None,
            "last_name": None,
            "company_name": None,
            "city": None,
            "postcode": None,
            "country_id": None,
            "phone": None,
            "trade": True,
            "active": None,
            "accepts_marketing": None,
            "created_at_utc": "2024-03-02T12:00:00",
        },
    ],
    "orders": [
        {
            "id": 1,
            "reference": 10001,
            "status": {"id": 1, "name": "Paid"},
            "billing_address": _SHOP_ADDRESS,
            "shipping_address": _SHOP_ADDRESS,
            "payment_method": "card",
            "sub_total": 8.5,
            "shipping_total": 3.99,
            "total": 12.49,
            "products": [
                {
                    "id": 101,
                    "title": "Tea",
                    "sku": "TEA",
                    "quantity": 1,
                    "price": 4.5,
                    "total": 4.5,
                },
                {"id": 102, "title": "Coffee", "sku": None, "quantity": 1, "price": 4, "total": 4},
            ],
            "customer_id": 1,
            "created_at_utc": "2024-03-01T12:00:00",
        },
        {
            "id": 2,
            "reference": None,
            "status": None,
            "billing_address": None,
            "shipping_address": None,
            "payment_method": None,
            "sub_total": None,
            "shipping_total": None,
            "total": 0,
            "products": [],
            "customer_id": None,
            "created_at_utc": "2024-03-02T12:00:00",
        },
        {
            "id": 3,
            "reference": 10003,
            "status": {"id": 3, "name": None},
            "billing_address": _SHOP_ADDRESS,
            "shipping_address": None,
            "payment_method": "paypal",
            "sub_total": 2.5,
            "shipping_total": 0,
            "total": 2.5,
            "products": None,
            "customer_id": 2,
            "created_at_utc": "2024-03-03T12:00:00",
        },
    ],
    "shipping_zones": [
        {
            "uuid": "5f0c7c1e-0000-4000-8000-000000000001",
            "name": "UK",
            "country_ids": [1],
            "vat": True,
        },
        {
            "uuid": "5f0c7c1e-0000-4000-8000-000000000002",
            "name": None,
            "country_ids": [],
            "vat": None,
        },
    ],
    "events": [
        {
            "id": 1,
            "topic": "order.created",
            "subject_type": "order",
            "subject_id": 1,
            "data": {"orderId": 1, "Total": "12.49", "nested": {"a": [1, 2]}},
            "created_at_utc": "2024-03-01T12:00:00",
        },
        {
            "id": 2,
            "topic": "customer.created",
            "subject_type": None,
            "subject_id": None,
            "data": None,
            "created_at_utc": "2024-03-02T12:00:00",
        },
        {
            "id": 3,
            "topic": None,
            "subject_type": "product",
            "subject_id": 101,
            "data": {},
            "created_at_utc": "2024-03-03T12:00:00",
        },
    ],
    "categories": [
        {
            "id": 1,
            "title": "Drinks",
            "slug": "drinks",
            "url": "https://shop.example.test/drinks",
            "active": True,
            "featured": False,
            "sort_order": 1,
            "created_at_utc": "2024-03-01T12:00:00",
        },
        {
            "id": 2,
            "title": None,
            "slug": None,
            "url": None,
            "active": None,
            "featured": True,
            "sort_order": None,
            "created_at_utc": "2024-03-02T12:00:00",
        },
    ],
    # answered as a bare array (contract §2.3: some deployments do)
    "themes": [
        {
            "id": 1,
            "title": "Classic",
            "live": True,
            "preview_url": "https://shop.example.test/p/1",
            "created_at_utc": "2024-03-01T12:00:00",
        },
        {
            "id": 2,
            "title": None,
            "live": False,
            "preview_url": None,
            "created_at_utc": "2024-03-02T12:00:00",
        },
    ],
}

# product sub-resources: {prd_id: rows}; ids are unique across all products
SHOP_CHILDREN: dict[str, dict[int, list[dict]]] = {
    "products_images": {
        101: [
            {
                "id": 1001,
                "url": "https://cdn.example.test/1001.jpg",
                "description": "Front",
                "sort_order": 1,
            },
            {
                "id": 1002,
                "url": "https://cdn.example.test/1002.jpg",
                "description": None,
                "sort_order": None,
            },
        ],
        102: [{"id": 1003, "url": None, "description": "Side", "sort_order": 2}],
        103: [],
    },
    "products_reviews": {
        101: [
            {
                "id": 2001,
                "name": "Ann",
                "content": "Lovely",
                "rating": 5,
                "active": True,
                "created_at_utc": "2024-03-01T12:00:00",
            }
        ],
        102: [
            {
                "id": 2002,
                "name": None,
                "content": None,
                "rating": None,
                "active": False,
                "created_at_utc": "2024-03-02T12:00:00",
            },
            {
                "id": 2003,
                "name": "Cy",
                "content": "Meh",
                "rating": 2,
                "active": None,
                "created_at_utc": "2024-03-03T12:00:00",
            },
        ],
        103: [],
    },
    "product_options": {
        101: [{"id": 3001, "name": "Size", "values": ["S", "M"]}],
        102: [],
        103: [{"id": 3002, "name": None, "values": None}],
    },
    "products_variations": {
        101: [
            {
                "id": 4001,
                "sku": "TEA-S",
                "stock": 2,
                "price": 4.5,
                "sale_price": 4.0,
                "weight": 0.1,
                "values": [{"id": 1, "name": "S", "option_name": "Size"}],
            },
            {
                "id": 4002,
                "sku": None,
                "stock": None,
                "price": None,
                "sale_price": None,
                "weight": None,
                "values": [],
            },
        ],
        102: [
            {
                "id": 4003,
                "sku": "COF-M",
                "stock": 0,
                "price": 6,
                "sale_price": None,
                "weight": 0.25,
                "values": [{"id": 2, "name": None, "option_name": "Size"}],
            }
        ],
        103: [],
    },
}
SHOP_CHILD_PATHS = {
    "images": "products_images",
    "reviews": "products_reviews",
    "options": "product_options",
    "variations": "products_variations",
}

DIGITAL: dict[str, list[dict]] = {
    "products": [
        {
            "id": 1,
            "name": "E-book",
            "product_type": "digital",
            "price": "10.00",
            "currency_code": "USD",
            "sales_limit": 100,
            "pdf_stamping": True,
            "self_hosted_url": "https://files.example.test/ebook.pdf",
            "product_image_url": "https://cdn.example.test/ebook.png",
            "created_at": "2024-03-01T12:00:00Z",
            "updated_at": "2024-03-02T12:00:00Z",
        },
        {
            "id": 2,
            "name": "Course",
            "product_type": "membership",
            "price": "0.00",
            "currency_code": None,
            "sales_limit": None,
            "pdf_stamping": False,
            "self_hosted_url": None,
            "product_image_url": None,
            "created_at": "2024-03-03T12:00:00Z",
            "updated_at": None,
        },
        {
            "id": 3,
            "name": None,
            "product_type": None,
            "price": None,
            "currency_code": "EUR",
            "sales_limit": 0,
            "pdf_stamping": None,
            "self_hosted_url": None,
            "product_image_url": "https://cdn.example.test/3.png",
            "created_at": None,
            "updated_at": "2024-03-04T12:00:00Z",
        },
    ],
    "packages": [
        {
            "id": 11,
            "name": "Bundle",
            "price": "15.00",
            "currency_code": "USD",
            "components": {"product_ids": [1, 2]},
            "created_at": "2024-03-01T12:00:00Z",
            "updated_at": "2024-03-01T13:00:00Z",
        },
        {
            "id": 12,
            "name": None,
            "price": None,
            "currency_code": None,
            "components": None,
            "created_at": None,
            "updated_at": None,
        },
    ],
    "orders": [
        {
            "id": 21,
            "state": "paid",
            "gateway": "stripe",
            "buyer_email": "a@example.test",
            "buyer_name": "Ann",
            "price_at_checkout": "10.00",
            "settled_currency": "USD",
            "settled_gross": "10.00",
            "settled_gateway_fee": "0.59",
            "download_url": "https://files.example.test/d/21",
            "cart": {
                "cart_items": [{"product_id": 1, "quantity": 1, "price_at_checkout": "10.00"}]
            },
            "subscription_id": 31,
            "created_at": "2024-03-01T12:00:00Z",
            "updated_at": "2024-03-01T12:01:00Z",
        },
        {
            "id": 22,
            "state": "refunded",
            "gateway": None,
            "buyer_email": None,
            "buyer_name": None,
            "price_at_checkout": None,
            "settled_currency": None,
            "settled_gross": None,
            "settled_gateway_fee": None,
            "download_url": None,
            "cart": {"cart_items": []},
            "subscription_id": None,
            "created_at": "2024-03-02T12:00:00Z",
            "updated_at": None,
        },
        {
            "id": 23,
            "state": None,
            "gateway": "paypal",
            "buyer_email": "c@example.test",
            "buyer_name": "Cy",
            "price_at_checkout": "0.00",
            "settled_currency": "EUR",
            "settled_gross": "0.00",
            "settled_gateway_fee": "0.00",
            "download_url": None,
            "cart": None,
            "subscription_id": 31,
            "created_at": "2024-03-03T12:00:00Z",
            "updated_at": "2024-03-03T12:00:00Z",
        },
    ],
    # answered in the object form {"subscription": [...]} (contract §2.4: some deployments)
    "subscriptions": [
        {
            "id": 31,
            "name": "Monthly",
            "frequency": "monthly",
            "recurring_price": "5.00",
            "trial_price": "0.00",
            "currency_code": "USD",
            "components": {"product_ids": [2]},
            "created_at": "2024-03-01T12:00:00Z",
            "updated_at": "2024-03-05T12:00:00Z",
        },
        {
            "id": 32,
            "name": None,
            "frequency": None,
            "recurring_price": None,
            "trial_price": None,
            "currency_code": None,
            "components": {"product_ids": None},
            "created_at": None,
            "updated_at": None,
        },
    ],
}
DIGITAL_WRAPPERS = {
    "products": "product",
    "packages": "package",
    "orders": "order",
    "subscriptions": "subscription",
}


def _amount(value: str | None, currency: str = "USD") -> dict:
    return {"currency": currency, "value": value}


ORDERS: dict[str, list[dict]] = {
    "orders": [
        {
            "order_id": "12-34567-89012",
            "creation_date": "2024-03-01T12:00:00.000Z",
            "last_modified_date": "2024-03-01T12:00:00.000Z",
            "order_fulfillment_status": "FULFILLED",
            "order_payment_status": "PAID",
            "seller_id": "seller-1",
            "buyer": {"username": "buyer_one"},
            "pricing_summary": {
                "price_subtotal": _amount("20.00"),
                "delivery_cost": _amount("3.50"),
                "total": _amount("23.50"),
            },
            "line_items": [
                {
                    "line_item_id": "1000001",
                    "sku": "SKU-A",
                    "title": "Lamp",
                    "quantity": 2,
                    "line_item_cost": _amount("20.00"),
                },
            ],
            "cancel_status": {"cancel_state": "NONE_REQUESTED"},
            "sales_record_reference": "SR-1",
        },
        {
            "order_id": "12-34567-89013",
            "creation_date": "2024-03-02T12:00:00.000Z",
            "last_modified_date": "2024-03-02T13:00:00.250Z",
            "order_fulfillment_status": None,
            "order_payment_status": "PENDING",
            "seller_id": None,
            "buyer": None,
            "pricing_summary": {
                "price_subtotal": None,
                "delivery_cost": None,
                "total": _amount("0.00"),
            },
            "line_items": [],
            "cancel_status": None,
            "sales_record_reference": None,
        },
        {
            "order_id": "12-34567-89014",
            "creation_date": None,
            "last_modified_date": "2024-03-03T00:00:00.001Z",
            "order_fulfillment_status": "NOT_STARTED",
            "order_payment_status": None,
            "seller_id": "seller-1",
            "buyer": {"username": None},
            "pricing_summary": None,
            "line_items": None,
            "cancel_status": {"cancel_state": None},
            "sales_record_reference": "SR-3",
        },
    ],
}

# per API: {stream: [records]} (shop children flattened, with their prd_id)
DATASETS: dict[str, dict[str, list[dict]]] = {
    "storefront": STOREFRONT,
    "payments": PAYMENTS,
    "shop": {
        **SHOP,
        **{
            stream: [
                {"prd_id": prd_id, **row} for prd_id, rows in by_product.items() for row in rows
            ]
            for stream, by_product in SHOP_CHILDREN.items()
        },
    },
    "digital": DIGITAL,
    "orders": ORDERS,
}


def _check_dataset_covers_schemas() -> None:
    """Guard on the test data itself: exactly the schema's fields, in every record."""
    for api, streams in DATASETS.items():
        for stream, records in streams.items():
            schema = json.loads((SCHEMAS / api / f"{stream}.json").read_text(encoding="utf-8"))
            fields = set(schema["properties"])
            assert records, f"{api}/{stream}: no mock records"
            for record in records:
                assert set(record) == fields, (
                    f"{api}/{stream}: mock record fields differ from the schema: "
                    f"{sorted(set(record) ^ fields)}"
                )


_check_dataset_covers_schemas()


# --------------------------------------------------------------------------------------
# Fake APIs (requests-mock callbacks)
# --------------------------------------------------------------------------------------

_MILLIS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _qs(request: t.Any) -> dict[str, str]:
    """Single-valued query parameters (a repeated one is reported as a list → 400)."""
    return {k: v[0] if len(v) == 1 else v for k, v in request.qs.items()}


def _int_param(params: dict, name: str, default: int) -> int | None:
    value = params.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _storefront(request: t.Any, context: t.Any) -> t.Any:
    def error(status: int, message: str) -> dict:
        context.status_code = status
        return {
            "type": "INVALID_REQUEST_ERROR",
            "subtype": None,
            "message": message,
            "details": None,
            "contextId": "ctx-test",
        }

    if request.headers.get("Authorization") != "Bearer fake-api-key":
        return error(401, "Unauthorized")
    if not request.headers.get("User-Agent"):
        return error(400, "User-Agent header required")
    path = request.path.removeprefix("/1.0/")
    streams = {
        "commerce/inventory": ("inventory", "inventory"),
        "commerce/orders": ("orders", "result"),
        "commerce/store_pages": ("store_pages", "storePages"),
        "commerce/products": ("products", "products"),
        "commerce/transactions": ("transactions", "documents"),
        "profiles": ("profiles", "profiles"),
    }
    if path not in streams:
        return error(404, f"no such resource: {request.path}")
    stream, selector = streams[path]
    params = _qs(request)
    page_size = 2  # fixed by the server
    if "cursor" in params:
        if len(params) != 1:
            return error(400, "cursor cannot be combined with other parameters")
        try:
            state = json.loads(base64.urlsafe_b64decode(params["cursor"] + "=" * 8))
        except ValueError:
            return error(400, "invalid cursor")
        if state["s"] != stream:
            return error(400, "cursor of another resource")
        after, before, offset = state["a"], state["b"], state["o"]
    else:
        unknown = set(params) - {"modifiedAfter", "modifiedBefore"}
        if unknown:
            return error(400, f"unknown parameter(s) {sorted(unknown)}")
        after, before, offset = params.get("modifiedAfter"), params.get("modifiedBefore"), 0
        if after is not None or before is not None:
            if stream not in ("orders", "products", "transactions"):
                return error(400, "this resource has no modifiedAfter/modifiedBefore filter")
            if after is None or before is None:
                return error(400, "modifiedAfter and modifiedBefore must be sent together")
            if not (_MILLIS_Z.match(after) and _MILLIS_Z.match(before)):
                return error(400, "dates must be YYYY-MM-DDTHH:MM:SS.sssZ")
            if after > before:
                return error(400, "modifiedAfter is after modifiedBefore")
    records = STOREFRONT[stream]
    if after is not None:
        records = sorted(
            (r for r in records if after <= r["modifiedOn"] <= before),
            key=lambda r: r["modifiedOn"],
            reverse=True,  # filtered results come newest first
        )
    page = records[offset : offset + page_size]
    more = offset + page_size < len(records)
    cursor = None
    if more:
        token = json.dumps({"s": stream, "a": after, "b": before, "o": offset + page_size})
        cursor = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    return {
        selector: copy.deepcopy(page),
        "pagination": {
            "hasNextPage": more,
            "nextPageCursor": cursor,
            "nextPageUrl": f"{STOREFRONT_BASE}{path}?cursor={cursor}" if more else None,
        },
    }


def _payments(request: t.Any, context: t.Any) -> t.Any:
    def error(status: int, message: str) -> dict:
        context.status_code = status
        return {"status_code": status, "message": message, "details": "test fake"}

    params = _qs(request)
    if params.get("api_key") != "fake-api-key":
        return error(401, "Invalid API key")
    streams = {"/v1/order_payments": "order_payments", "/v1/products": "products"}
    if request.path not in streams:
        return error(404, "Not found")
    stream = streams[request.path]
    unknown = set(params) - {"api_key", "offset", "limit"}
    offset, limit = _int_param(params, "offset", 0), _int_param(params, "limit", 100)
    if unknown or offset is None or limit is None or offset < 0 or not 1 <= limit <= 100:
        return error(400, f"bad query {params!r}")
    records = PAYMENTS[stream]
    body: dict[str, t.Any] = {"data": copy.deepcopy(records[offset : offset + limit])}
    if stream == "order_payments":  # "total" may be absent: products leaves it out
        body["total"] = len(records)
    return body


_SHOP_CHILD = re.compile(r"^/v1/products/(?P<prd_id>[^/]+)/(?P<kind>[a-z]+)$")


def _shop(request: t.Any, context: t.Any) -> t.Any:
    def error(status: int, message: str) -> dict:
        context.status_code = status
        return {"code": 2 if status == 401 else status, "message": message}

    if request.headers.get("Authorization") != _basic("fake-api-key", "fake-api-secret"):
        return error(401, "Invalid credentials")
    params = _qs(request)
    path = request.path
    child = _SHOP_CHILD.match(path)
    if child:
        if child["kind"] not in SHOP_CHILD_PATHS:
            return error(404, "Not found")
        by_product = SHOP_CHILDREN[SHOP_CHILD_PATHS[child["kind"]]]
        if not child["prd_id"].isdigit() or int(child["prd_id"]) not in by_product:
            return error(404, f"product {child['prd_id']} not found")
        records = by_product[int(child["prd_id"])]
        stream = None
    else:
        stream = {f"/v1/{name.replace('_', '-')}": name for name in SHOP}.get(path)
        if stream is None:
            return error(404, "Not found")
        records = SHOP[stream]
    if stream == "countries":  # one page, no pagination parameters
        if params:
            return error(400, f"unexpected parameters {sorted(params)}")
        return {"data": copy.deepcopy(records)}
    unknown = set(params) - {"offset", "limit"}
    offset, limit = _int_param(params, "offset", 0), _int_param(params, "limit", 20)
    if unknown or offset is None or limit is None or offset < 0 or not 1 <= limit <= 100:
        return error(400, f"bad query {params!r}")
    page = copy.deepcopy(records[offset : offset + limit])
    return page if stream == "themes" else {"data": page}


def _digital(request: t.Any, context: t.Any) -> t.Any:
    def error(status: int, message: str) -> dict:
        context.status_code = status
        return {"error": message}

    if request.headers.get("Authorization") != _basic("fake-user", "fake-password"):
        return error(401, "Invalid username or password")
    if request.headers.get("Accept") != "application/json":
        return error(406, "Not Acceptable")
    stream = {f"/v1/{name}": name for name in DIGITAL}.get(request.path)
    if stream is None:
        return error(404, "Not found")
    params = _qs(request)
    allowed = {"page", "per_page"} | ({"from", "to"} if stream == "orders" else set())
    page_no, per_page = _int_param(params, "page", 1), _int_param(params, "per_page", 50)
    if set(params) - allowed or page_no is None or per_page is None or page_no < 1 or per_page < 1:
        return error(400, f"bad query {params!r}")
    per_page = min(per_page, 50)  # silently clamped
    records = DIGITAL[stream]
    if stream == "orders":
        day = re.compile(r"^\d{4}-\d\d-\d\d$")
        low, high = params.get("from"), params.get("to")
        if any(v is not None and not day.match(v) for v in (low, high)):
            return error(400, "from/to must be YYYY-MM-DD")
        records = [
            r
            for r in records
            if (low is None or r["created_at"][:10] >= low)
            and (high is None or r["created_at"][:10] <= high)
        ]
    page = copy.deepcopy(records[(page_no - 1) * per_page : page_no * per_page])
    wrapper = DIGITAL_WRAPPERS[stream]
    if stream == "subscriptions":
        return {wrapper: page}
    return [{wrapper: record} for record in page]


_ORDERS_FILTER = re.compile(
    r"^lastmodifieddate:\[(?P<low>[^.\]]+\.\d{3}Z)\.\.(?P<high>[^\]]+\.\d{3}Z)?\]$"
)


def _orders_token(request: t.Any, context: t.Any) -> t.Any:
    form = parse_qs(request.text or "")
    if request.headers.get("Authorization") != _basic("fake-client-id", "fake-client-secret"):
        context.status_code = 401
        return {"error": "invalid_client", "error_description": "client authentication failed"}
    if form.get("grant_type") != ["client_credentials"]:
        context.status_code = 400
        return {"error": "unsupported_grant_type", "error_description": "client_credentials only"}
    return {"access_token": "fake-token", "token_type": "Bearer", "expires_in": 3600}


def _orders(request: t.Any, context: t.Any) -> t.Any:
    def error(status: int, error_id: int, message: str) -> dict:
        context.status_code = status
        return {"errors": [{"errorId": error_id, "message": message, "longMessage": message}]}

    auth = request.headers.get("Authorization")
    if auth is None:
        return error(401, 1002, "Missing access token")
    if auth != "Bearer fake-token":
        return error(401, 1001, "Invalid access token")
    if request.path != "/v1/orders":
        return error(404, 404, "Not found")
    params = _qs(request)
    offset, limit = _int_param(params, "offset", 0), _int_param(params, "limit", 200)
    if (
        set(params) - {"filter", "offset", "limit"}
        or offset is None
        or limit is None
        or offset < 0
        or not 1 <= limit <= 200
    ):
        return error(400, 2004, f"bad query {params!r}")
    records = sorted(ORDERS["orders"], key=lambda r: r["last_modified_date"])
    if "filter" in params:
        match = _ORDERS_FILTER.match(params["filter"])
        if not match:
            return error(400, 2004, f"bad filter {params['filter']!r}")
        low, high = match["low"], match["high"]
    else:  # without a filter: only orders created in the last 90 days
        since = datetime.now(timezone.utc) - timedelta(days=90)
        low, high = since.strftime("%Y-%m-%dT%H:%M:%S.000Z"), None
    records = [
        r
        for r in records
        if low <= r["last_modified_date"] and (high is None or r["last_modified_date"] <= high)
    ]
    href = f"{ORDERS_BASE}/v1/orders?offset={offset}&limit={limit}"
    body = {
        "href": href,
        "orders": copy.deepcopy(records[offset : offset + limit]),
        "total": len(records),
        "offset": offset,
        "limit": limit,
    }
    if offset + limit < len(records):
        body["next"] = f"{ORDERS_BASE}/v1/orders?offset={offset + limit}&limit={limit}"
    return body


@pytest.fixture(scope="module", autouse=True)
def fake_apis() -> t.Iterator[requests_mock.Mocker]:
    """All five fake APIs, active for the whole module (the runners are class-scoped).

    Anything not matched raises requests_mock's NoMockAddress: nothing reaches the network.
    """
    with requests_mock.Mocker(case_sensitive=True) as mocker:
        mocker.get(re.compile(r"^https://storefront\.test/"), json=_storefront)
        mocker.get(re.compile(r"^https://payments\.test/"), json=_payments)
        mocker.get(re.compile(r"^https://shop\.test/"), json=_shop)
        mocker.get(re.compile(r"^https://digital\.test/"), json=_digital)
        mocker.post(ORDERS_TOKEN_URL, json=_orders_token)
        mocker.get(re.compile(r"^https://orders\.test/"), json=_orders)
        yield mocker


# --------------------------------------------------------------------------------------
# Test classes
# --------------------------------------------------------------------------------------


def _primary_keys(api: str) -> dict[str, list[str]]:
    """Each stream's primary key, as the tap declares it (no HTTP)."""
    tap = TapCommerce(config=CONFIGS[api], parse_env_config=False, validate_config=True)
    return {name: list(stream.primary_keys or []) for name, stream in tap.streams.items()}


class _PrimaryKeys:
    """A real primary-key test (the SDK's `StreamPrimaryKeysTest` cannot fail)."""

    api: t.ClassVar[str]

    def check_primary_keys(self, runner: TapTestRunner, stream: str, keys: list[str]) -> None:
        assert keys, f"stream '{stream}' declares no primary key"
        records = runner.records[stream]
        assert records, f"stream '{stream}' emitted no records"
        seen: dict[tuple, int] = {}
        for index, record in enumerate(records):
            missing = [k for k in keys if record.get(k) is None]
            assert not missing, f"'{stream}' record #{index} lacks key field(s) {missing}: {record}"
            pk = tuple(record[k] for k in keys)
            assert pk not in seen, f"'{stream}': key {pk} emitted twice (#{seen[pk]}, #{index})"
            seen[pk] = index
        expected = {tuple(r[k] for k in keys) for r in DATASETS[self.api][stream]}
        assert set(seen) == expected, (
            f"'{stream}': emitted keys {sorted(seen)} differ from the API's {sorted(expected)}"
        )


def _standard_class(api: str) -> type:
    """The SDK's generated test class for one API (tap instantiated at collection time)."""
    return get_tap_test_class(
        tap_class=TapCommerce,  # dispatches on config["api"]
        config=CONFIGS[api],
        suite_config=SuiteConfig(),  # every stream has records: nothing ignored
        # hermetic: a TAP_COMMERCE_* variable in the environment must not change the config
        parse_env_config=False,
    )


_PKS = {api: _primary_keys(api) for api in CONFIGS}


def _pk_params(api: str) -> list[t.Any]:
    return [pytest.param(name, keys, id=name) for name, keys in _PKS[api].items()]


class TestStorefrontStandard(_standard_class("storefront"), _PrimaryKeys):
    """storefront: bearer auth, cursor pages via nextPageUrl, modifiedAfter/Before."""

    api = "storefront"

    @pytest.mark.parametrize(("stream", "keys"), _pk_params("storefront"))
    def test_primary_keys_unique_and_complete(self, runner, stream, keys) -> None:
        self.check_primary_keys(runner, stream, keys)


class TestPaymentsStandard(_standard_class("payments"), _PrimaryKeys):
    """payments: api_key query parameter, offset/limit with and without total."""

    api = "payments"

    @pytest.mark.parametrize(("stream", "keys"), _pk_params("payments"))
    def test_primary_keys_unique_and_complete(self, runner, stream, keys) -> None:
        self.check_primary_keys(runner, stream, keys)


class TestShopStandard(_standard_class("shop"), _PrimaryKeys):
    """shop: basic auth, offset/limit, bare-array lists, per-product sub-resources."""

    api = "shop"

    @pytest.mark.parametrize(("stream", "keys"), _pk_params("shop"))
    def test_primary_keys_unique_and_complete(self, runner, stream, keys) -> None:
        self.check_primary_keys(runner, stream, keys)


class TestDigitalStandard(_standard_class("digital"), _PrimaryKeys):
    """digital: basic auth, page/per_page, wrapper envelopes, from/to on orders."""

    api = "digital"

    @pytest.mark.parametrize(("stream", "keys"), _pk_params("digital"))
    def test_primary_keys_unique_and_complete(self, runner, stream, keys) -> None:
        self.check_primary_keys(runner, stream, keys)


class TestOrdersStandard(_standard_class("orders"), _PrimaryKeys):
    """orders: OAuth2 client credentials, offset/limit with total, lastmodifieddate filter."""

    api = "orders"

    @pytest.mark.parametrize(("stream", "keys"), _pk_params("orders"))
    def test_primary_keys_unique_and_complete(self, runner, stream, keys) -> None:
        self.check_primary_keys(runner, stream, keys)
