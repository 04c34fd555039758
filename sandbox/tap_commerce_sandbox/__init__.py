"""A local emulator of the five commerce APIs tap-commerce reads (contract §2).

One process, one loopback port, every API under its own path prefix::

    from tap_commerce_sandbox import Sandbox

    with Sandbox(seed=1, scale=1.0) as sb:
        config = sb.config("shop")        # a ready tap config
        rows = sb.records("shop", "products")
        sb.mutate(added=5, updated=5)     # new and changed records, stamped "now"
        sb.fail_next(2, "503")            # fault drills
        sb.set_extra_fields(apis="shop")  # schema drift: unknown fields on the wire
        sb.set_foreign_next_url()         # storefront nextPageUrl on another origin
        print(sb.stats())

Many stores, each its own sandbox on its own port (see :mod:`.stores`)::

    from tap_commerce_sandbox import Stores

    with Stores(["north", "south"]) as stores:
        config = stores.config("north", "shop")

Run it from a shell with ``python -m tap_commerce_sandbox serve`` (or ``stores
STORES_FILE``; see :mod:`.cli`).
"""

from .data import APIS
from .faults import KINDS as FAULT_KINDS
from .sandbox import BASE_PATHS, DEFAULT_CREDENTIALS, TOKEN_PATH, Sandbox, write_config_files
from .stores import Stores

__all__ = [
    "APIS",
    "BASE_PATHS",
    "DEFAULT_CREDENTIALS",
    "FAULT_KINDS",
    "TOKEN_PATH",
    "Sandbox",
    "Stores",
    "write_config_files",
]
