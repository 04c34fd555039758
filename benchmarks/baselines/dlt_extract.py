"""Extract some resources of one API with dlt's ``rest_api_source`` (the fixed seed config).

    python dlt_extract.py --config shop.json --resources products,products_images \\
        [--parallel-children] --workdir DIR --result result.json

``--config`` is the tap's config file for the API (base URL and credentials, as the
sandbox writes it). The run is ``pipeline.extract()`` with no destination: dlt requests,
decodes and selects every page and writes the items to its local extract files
(uncompressed jsonl under ``--workdir``), the cheapest sink it has. No normalize or load
step runs. The item count per table goes to ``--result`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dlt_configs import baseline_run, fixed_config, table_counts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resources", help="comma-separated; default: all of the API")
    parser.add_argument("--parallel-children", action="store_true")
    args, settings, workdir = baseline_run(parser)

    import dlt  # noqa: PLC0415 - after the environment is set
    from dlt.sources.rest_api import rest_api_source  # noqa: PLC0415

    resources = args.resources.split(",") if args.resources else None
    config = fixed_config(
        settings["api"], settings, resources=resources, parallel_children=args.parallel_children
    )
    source = rest_api_source(config)
    if resources is not None:
        source = source.with_resources(*resources)
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{settings['api']}",
        pipelines_dir=str(workdir / "pipelines"),
        destination=None,
        progress="log" if os.environ.get("BENCH_DLT_PROGRESS") else None,
    )
    info = pipeline.extract(source)
    counts = table_counts(info.metrics)
    Path(args.result).write_text(json.dumps({"records": counts}), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
