"""The five emulated APIs, each mounted under its own path prefix on one server."""

from __future__ import annotations

from .base import Api
from .digital import DigitalApi
from .orders import OrdersApi
from .payments import PaymentsApi
from .shop import ShopApi
from .storefront import StorefrontApi
from .variants import VariantApi

__all__ = [
    "Api",
    "DigitalApi",
    "OrdersApi",
    "PaymentsApi",
    "ShopApi",
    "StorefrontApi",
    "VariantApi",
]
