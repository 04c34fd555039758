"""Load every resource of one API into PostgreSQL with dlt's ``rest_api_source`` (the fixed
seed config, as parts (a) and (b) extract it) and dlt's ``postgres`` destination.

    python dlt_load.py --config payments.json --credentials URL --dataset payments \\
        --workdir DIR --result result.json

``--config`` is the tap's config file for the API (base URL and credentials, as the
sandbox writes it). The run is ``pipeline.run()``: extract, normalize and load, with the
seeds' ``write_disposition: merge`` on their primary key (``resource_defaults``).
``--credentials`` is a dlt connection string: dlt wants a host and a password in it, so a
server on a Unix socket is ``postgresql://user:unused@localhost:5432/db?host=/socket/dir``
(libpq's ``host`` query parameter wins over the URL's host; a ``trust`` server ignores the
password). The rows per table that dlt loaded go to ``--result`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dlt_configs import baseline_run, fixed_config, table_counts

#: Resources whose key is not the seeds' ``primary_key: id``: shop's shipping zones have no
#: ``id`` (their key is ``uuid``), and a merge on a column that does not exist fails. Only
#: this load sets it; extract-only runs (parts a, b) have no use for a key.
PRIMARY_KEYS = {("shop", "shipping_zones"): "uuid"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--credentials", required=True, help="dlt's postgres connection string")
    parser.add_argument("--dataset", required=True, help="the schema to load into")
    args, settings, workdir = baseline_run(parser)

    import dlt  # noqa: PLC0415 - after the environment is set
    from dlt.sources.rest_api import rest_api_source  # noqa: PLC0415

    api = settings["api"]
    config = fixed_config(api, settings)
    for resource in config["resources"]:
        key = PRIMARY_KEYS.get((api, resource["name"]))
        if key:
            resource["primary_key"] = key
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_load_{api}",
        pipelines_dir=str(workdir / "pipelines"),
        destination=dlt.destinations.postgres(credentials=args.credentials),
        dataset_name=args.dataset,
        progress="log" if os.environ.get("BENCH_DLT_PROGRESS") else None,
    )
    pipeline.run(rest_api_source(config))
    normalize = pipeline.last_trace.last_normalize_info
    counts = table_counts(normalize.metrics) if normalize is not None else {}
    Path(args.result).write_text(json.dumps({"rows": counts}), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
