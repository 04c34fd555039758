"""``python -m tap_commerce_sandbox``: the same as the ``tap-commerce-sandbox`` script."""

import sys

from .cli import main

sys.exit(main())
