"""``make demo``: run the tap's discovery for each API and print its streams."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tap_commerce.settings import API_IDS


def discover(api: str, workdir: Path) -> dict:
    """The catalog ``tap-commerce --discover`` prints for one API."""
    config = workdir / f"{api}.json"
    config.write_text(json.dumps({"api": api}))
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tap_commerce", "--config", str(config), "--discover"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)


def main() -> None:
    """Print one row per stream of every API."""
    print(f"{'api':<11} {'stream':<20} {'key':<9} {'replication key':<19} fields")  # noqa: T201
    with tempfile.TemporaryDirectory() as tmp:
        for api in API_IDS:
            for entry in discover(api, Path(tmp))["streams"]:
                root = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
                print(  # noqa: T201
                    f"{api:<11} {entry['tap_stream_id']:<20} {','.join(entry['key_properties']):<9} "
                    f"{root.get('replication-key') or '-':<19} {len(entry['schema']['properties'])}"
                )


if __name__ == "__main__":
    main()
