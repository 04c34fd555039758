"""The built-in definitions give the Singer output (and send the requests) that the
five API modules they replaced gave: every message of a full sync, an incremental one
after the sandbox changed, a window, a look-back with an end date, schema drift kept and
dropped, and the other envelopes, against `tests/golden/` (see `tests/golden.py`)."""

from __future__ import annotations

import difflib

import pytest

from tests import golden


@pytest.mark.parametrize("api", golden.APIS)
def test_output_and_requests_are_those_of_the_golden_run(api):
    expected = golden.read(api)
    produced = golden.scenarios(api)
    if produced != expected:
        diff = difflib.unified_diff(expected, produced, "golden", "now", n=0, lineterm="")
        pytest.fail("\n".join(line[:300] for line in list(diff)[:20]))
