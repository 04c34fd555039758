"""``python -m orchestrate.meltano_run EXTRACTOR LOADER -- MELTANO ARGS…``: one `meltano
run` of a store, as the external process of a Dagster Pipes session.

It runs Meltano in an environment without the other stores' variables (the asset names
them in the Pipes extra ``unset``) or Dagster's own, and passes every line of Meltano's
output through to its own stderr (Dagster keeps it in the step's logs). Then it reports
to Dagster, in one Pipes message:

- Meltano's exit code;
- the records the tap sent per stream, and its requests and 429s (tap-commerce's summary
  line of each stream, else the tap's ``record_count`` metrics);
- on a failure, the one line that says why: the tap's or the loader's last error line (the
  tap's own one-line errors name the setting, stream or URL at fault), else Meltano's;
- the CPU seconds of Meltano and its processes, and the peak memory of the largest.

It exits 0 whenever Meltano ran, whatever the result: the asset decides from the message
(`orchestrate.definitions`). Ctrl-C or Dagster's termination is passed on to Meltano.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from dagster_pipes import open_dagster_pipes

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

#: Meltano 4's console line: time, [level], the plugin (or meltano), the message
LINE = re.compile(r"^\S+\s+\[(?P<level>[a-z]+)\s*\]\s+(?P<source>\S+)\s(?P<message>.*)$")
METRIC = "METRIC: "
#: lines that say an error happened without saying which
VAGUE = ("An unhandled error occurred", "Block run completed", "Run completed")
STOP_SECONDS = 30


def summarise(lines: Iterable[str], extractor: str, loader: str) -> tuple[dict[str, int], str]:
    """The records per stream the tap counted, and the last error line of the run (the
    extractor's or the loader's first, else Meltano's), from Meltano's output.
    """
    records: Counter[str] = Counter()
    plugin_error = meltano_error = ""
    for line in lines:
        match = LINE.match(line.rstrip("\n"))
        if match is None:
            continue
        source, message = match["source"], match["message"].strip()
        if source == extractor and message.startswith(METRIC):
            metric = _metric(message[len(METRIC) :])
            if metric.get("metric") == "record_count":
                stream = str((metric.get("tags") or {}).get("stream", "?"))
                records[stream] += int(metric.get("value") or 0)
            continue
        if match["level"] not in {"error", "critical"} or message.startswith(VAGUE):
            continue
        if source in {extractor, loader}:
            plugin_error = f"{source}: {message}"
        else:
            meltano_error = message
    return dict(records), plugin_error or meltano_error


#: tap-commerce's summary line of a stream (`tap_commerce.progress`)
SUMMARY = re.compile(
    r"^stream '(?P<stream>[^']+)': (?:done,|.+ after) (?P<records>[\d,]+) records?, "
    r"(?P<requests>[\d,]+) requests?, [\d.,]+ s, (?P<limited>[\d,]+) 429s"
)


def stream_totals(lines: Iterable[str], extractor: str) -> dict[str, dict[str, int]]:
    """Records, requests and 429s of each stream, from tap-commerce's summary lines
    (one a stream, child streams included, whose ``record_count`` metrics come per
    parent and are not all at INFO).
    """
    totals: dict[str, dict[str, int]] = {}
    for line in lines:
        match = LINE.match(line.rstrip("\n"))
        if match is None or match["source"] != extractor:
            continue
        summary = SUMMARY.match(match["message"].strip())
        if summary is not None:
            totals[summary["stream"]] = {
                key: int(summary[key].replace(",", ""))
                for key in ("records", "requests", "limited")
            }
    return totals


def _metric(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def run(
    command: Sequence[str], extractor: str, loader: str, *, unset: Iterable[str] = ()
) -> dict[str, Any]:
    """Run Meltano, echoing its output to stderr, without the variables ``unset`` or
    Dagster's own; what to report.
    """
    dropped = set(unset)
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("DAGSTER_")}
    kept: list[str] = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with subprocess.Popen(  # noqa: S603 - the command the asset built
        list(command),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
    ) as process:
        stdout = process.stdout
        if stdout is None:  # pragma: no cover - Popen gives one with PIPE
            msg = "no output pipe"
            raise RuntimeError(msg)
        try:
            for line in stdout:
                sys.stderr.write(line)
                kept.append(line)
            code = process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
            raise
    records, error = summarise(kept, extractor, loader)
    totals = stream_totals(kept, extractor)
    records.update({stream: counts["records"] for stream, counts in totals.items()})
    if code != 0 and not error:
        error = f"meltano exited {code} without an error line"
    # Meltano and every process it waited for (discovery, the tap, the loader)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    return {
        "exit_code": code,
        "records": records,
        "error": error if code else "",
        "requests": sum(counts["requests"] for counts in totals.values()),
        "responses_429": sum(counts["limited"] for counts in totals.values()),
        "cpu_seconds": round(cpu, 3),
        # the largest of those processes (kB on Linux; of this process's children so far,
        # which in `main` are Meltano's alone)
        "peak_rss_mb": round(usage.ru_maxrss * 1024 / 1e6, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``EXTRACTOR LOADER -- MELTANO ARGS…``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 4 or args[2] != "--":  # noqa: PLR2004 - extractor, loader, --, command
        sys.stderr.write(
            "usage: python -m orchestrate.meltano_run EXTRACTOR LOADER -- MELTANO ARGS\n"
        )
        return 2
    extractor, loader, command = args[0], args[1], args[3:]
    with open_dagster_pipes() as pipes:
        try:
            unset = pipes.get_extra("unset") if "unset" in pipes.extras else []
            outcome = run(command, extractor, loader, unset=unset)
        except OSError as exc:
            outcome = {"exit_code": 127, "records": {}, "error": f"cannot run {command[0]}: {exc}"}
        pipes.report_custom_message(outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
