"""``python -m orchestrate.meltano_run EXTRACTOR -- MELTANO ARGS…``: one `meltano
run` of a store, as the external process of a Dagster Pipes session.

It runs Meltano in an environment without the other stores' variables (the asset names
them in the Pipes extra ``unset``) or Dagster's own, and passes every line of Meltano's
output through to its own stderr (Dagster keeps it in the step's logs). A run whose loader
lost the race to create a table (another store's first sync was creating it) is run again
at once. Then it reports to Dagster, in one Pipes message:

- Meltano's exit code;
- the records the tap sent per stream, and its requests and 429s (tap-commerce's summary
  line of each stream, else the tap's ``record_count`` metrics);
- on a failure, the one line that says why (`orchestrate.meltano_log.reason`): the tap's
  or the loader's last error line (the tap's own one-line errors name the setting, stream
  or URL at fault), else the exception ending a plugin's traceback, else Meltano's;
- why each run that was run again failed (``reruns``);
- the CPU seconds of Meltano and its processes, and the peak memory of the largest.

It exits 0 whenever Meltano ran, whatever the result: the asset decides from the message
(`orchestrate.definitions`). Ctrl-C or Dagster's termination is passed on to Meltano.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from dagster_pipes import open_dagster_pipes

from orchestrate.meltano_log import created_concurrently, stream_totals, summarise

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

STOP_SECONDS = 30
#: runs again after a loader lost a race to create a table (`meltano_log.created_concurrently`)
RERUNS = 3


def run(command: Sequence[str], extractor: str, *, unset: Iterable[str] = ()) -> dict[str, Any]:
    """Run Meltano, echoing its output to stderr, without the variables ``unset`` or
    Dagster's own; what to report. A run whose loader lost a race to create a schema,
    table or column another store's loader was creating at the same moment is run again
    at once (at most `RERUNS` times): the second finds it there, and resumes from the
    state the first saved.
    """
    dropped = set(unset)
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("DAGSTER_")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    records: Counter[str] = Counter()
    requests = limited = 0
    reruns: list[str] = []
    while True:
        code, lines = _meltano(command, env)
        sent, error = summarise(lines, extractor)
        totals = stream_totals(lines, extractor)
        sent.update({stream: counts["records"] for stream, counts in totals.items()})
        records.update(sent)
        requests += sum(counts["requests"] for counts in totals.values())
        limited += sum(counts["limited"] for counts in totals.values())
        if code == 0 or len(reruns) >= RERUNS or not created_concurrently(error):
            break
        reruns.append(error)
        sys.stderr.write(f"orchestrate: running again at once: {error}\n")
    if code != 0 and not error:
        error = f"meltano exited {code} without an error line"
    # Meltano and every process it waited for (discovery, the tap, the loader)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    return {
        "exit_code": code,
        "records": dict(records),
        "error": error if code else "",
        "requests": requests,
        "responses_429": limited,
        "reruns": reruns,
        "cpu_seconds": round(cpu, 3),
        # the largest of those processes (kB on Linux; of this process's children so far,
        # which in `main` are Meltano's alone)
        "peak_rss_mb": round(usage.ru_maxrss * 1024 / 1e6, 1),
    }


def _meltano(command: Sequence[str], env: dict[str, str]) -> tuple[int, list[str]]:
    """Meltano's exit code and output lines, each passed through to stderr as it comes."""
    kept: list[str] = []
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
            return process.wait(), kept
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
            raise


def main(argv: Sequence[str] | None = None) -> int:
    """``EXTRACTOR -- MELTANO ARGS…``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--":  # noqa: PLR2004 - extractor, --, command
        sys.stderr.write("usage: python -m orchestrate.meltano_run EXTRACTOR -- MELTANO ARGS\n")
        return 2
    extractor, command = args[0], args[2:]
    with open_dagster_pipes() as pipes:
        try:
            unset = pipes.get_extra("unset") if "unset" in pipes.extras else []
            outcome = run(command, extractor, unset=unset)
        except OSError as exc:
            outcome = {"exit_code": 127, "records": {}, "error": f"cannot run {command[0]}: {exc}"}
        pipes.report_custom_message(outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
