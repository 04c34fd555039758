"""The five APIs, one module each; `API_TAPS` maps the ``api`` setting to its tap class."""

from __future__ import annotations

import typing as t

from tap_commerce.apis.digital import Digital
from tap_commerce.apis.orders import Orders
from tap_commerce.apis.payments import Payments
from tap_commerce.apis.shop import Shop
from tap_commerce.apis.storefront import Storefront

if t.TYPE_CHECKING:
    from tap_commerce.tap import TapCommerce

API_TAPS: dict[str, type[TapCommerce]] = {
    tap.profile.api_id: tap for tap in (Storefront, Payments, Shop, Digital, Orders)
}

__all__ = ["API_TAPS", "Digital", "Orders", "Payments", "Shop", "Storefront"]
