"""The five APIs, one module each; `API_TAPS` maps the ``api`` setting to its tap class."""

from tap_commerce.apis.digital import Digital
from tap_commerce.apis.orders import Orders
from tap_commerce.apis.payments import Payments
from tap_commerce.apis.shop import Shop
from tap_commerce.apis.storefront import Storefront

API_TAPS = {tap.profile.api_id: tap for tap in (Storefront, Payments, Shop, Digital, Orders)}

__all__ = ["API_TAPS", "Digital", "Orders", "Payments", "Shop", "Storefront"]
