"""``python -m tap_commerce`` runs the tap."""

from tap_commerce.tap import TapCommerce

TapCommerce.cli()
