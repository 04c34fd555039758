"""What the benchmark needs around the tools it measures: the sandbox in its own process,
one measured subprocess per tool run, catalogs, and parsing of what the tools report."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import typing as t
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

from typing_extensions import Self

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
BIN = Path(sys.executable).parent
PY = sys.executable
PLAIN_TAP = str(BENCH / "baselines" / "plain_sdk_tap.py")
RSS_LAUNCHER = str(BENCH / "rss_launcher.py")
DLT_EXTRACT = str(BENCH / "baselines" / "dlt_extract.py")
TOOLS = ("tap-commerce", "plain singer-sdk tap", "dlt rest_api (extract)")
#: part (a)'s second tap-commerce leg: payments through a user definition without schema files
DEFINITION_LEG = "tap-commerce, user definition (schema inferred)"
DEFINITION = BENCH / "definitions" / "payments_inferred.yml"


def tool(name: str) -> str:
    """A console script of the benchmark's virtualenv."""
    path = BIN / name
    if not path.exists():
        raise SystemExit(
            f"{path} not found: run the benchmark with the virtualenv that has tap-commerce "
            "and dlt installed (`make bench` sets it up)"
        )
    return str(path)


def warm_up() -> None:
    """Run each tool once, untimed, before anything is measured (``--about``; dlt's
    imports): the first run of a tool on a machine reads its code from a cold file cache,
    and whichever tool happened to run first would pay for it."""
    for command in (
        [tool("tap-commerce"), "--about"],
        [PY, PLAIN_TAP, "--about"],
        [PY, "-c", "import dlt; from dlt.sources.rest_api import rest_api_source"],
    ):
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def work_directory(prefix: str) -> Path:
    """A fresh work directory, in memory (/dev/shm) where there is one with room: dlt's
    extract files then cost no disk I/O, as the taps' /dev/null costs none."""
    import shutil  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    shm = Path("/dev/shm")
    room = shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2e9
    return Path(tempfile.mkdtemp(prefix=prefix, dir=str(shm) if room else None))


# -- the sandbox -----------------------------------------------------------------------


class SandboxProcess:
    """``tap-commerce-sandbox serve`` in its own process (so its CPU time and memory are
    never counted against a tool), driven through its ``/_admin/`` endpoints."""

    def __init__(self, workdir: Path, *args: str) -> None:
        self.workdir = workdir
        self.configs_dir = workdir / "configs"
        workdir.mkdir(parents=True, exist_ok=True)
        self._log = (workdir / "sandbox.log").open("wb")
        command = [
            tool("tap-commerce-sandbox"),
            "serve",
            "--port",
            "0",
            "--write-configs",
            str(self.configs_dir),
            *args,
        ]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()  # printed once configs are written
        if not self.url.startswith("http"):
            self.stop()
            log = (workdir / "sandbox.log").read_text(errors="replace")
            raise RuntimeError(f"the sandbox did not start: {log[-2000:]}")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def admin(self, path: str, method: str = "GET", body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_admin/{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def config_path(self, api: str) -> Path:
        return self.configs_dir / f"{api}.json"

    def config(self, api: str) -> dict:
        return json.loads(self.config_path(api).read_text(encoding="utf-8"))

    def reset(self) -> None:
        self.admin("reset", "POST", {})

    def stats(self) -> dict:
        return self.admin("stats")

    def requests(self) -> list[dict]:
        return self.admin("requests")["requests"]

    def streams(self) -> dict[str, dict[str, int]]:
        return self.admin("streams")

    def records(self, api: str, stream: str) -> list[dict]:
        return self.admin(f"data/{api}/{stream}")["records"]


# -- one measured run ------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    """One tool run: wall time, CPU time and peak RSS from ``wait4``'s rusage."""

    label: str
    wall: float  # seconds, process start to exit
    cpu: float  # user + system seconds of the process
    max_rss_mb: float  # peak resident set size, MB (10^6 bytes)
    returncode: int
    started: float  # epoch seconds
    ended: float  # epoch seconds
    stderr_path: Path
    stdout_path: Path | None = None
    records: dict[str, int] = dataclasses.field(default_factory=dict)
    requests: int = 0

    @property
    def total_records(self) -> int:
        return sum(self.records.values())

    @property
    def records_per_second(self) -> float:
        return self.total_records / self.wall if self.wall else 0.0


def measure(
    label: str,
    command: list[str],
    workdir: Path,
    *,
    env: dict[str, str] | None = None,
    inherit_env: bool = True,
    timeout: float = 600,
    keep_stdout: bool = False,
    stdin_path: Path | None = None,
    cwd: Path | None = None,
    own_rss: bool = False,
) -> Run:
    """Run ``command`` with stdout to /dev/null (or, with ``keep_stdout``, to a file),
    stdin from ``stdin_path`` (default: none) and stderr to a file; reap it with
    ``os.wait4`` for its own rusage (with its reaped descendants': a Meltano run's CPU time
    includes its tap's and loader's). ``env`` is added to this process's environment, or
    with ``inherit_env=False`` is the whole environment. ``own_rss`` starts the command from
    `rss_launcher.py`, so that its peak RSS is its own rather than at least this process's
    size (CPU and peak RSS then come from the launcher's report; the wall time includes
    the launcher's ~20 ms). Fails loudly on a non-zero exit."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    stderr_path = workdir / f"{slug}.stderr"
    stdout_path = workdir / f"{slug}.stdout" if keep_stdout else Path(os.devnull)
    full_env = {**os.environ, **(env or {})} if inherit_env else dict(env or {})
    stdin_file = stdin_path or Path(os.devnull)
    rusage_path = workdir / f"{slug}.rusage.json"
    if own_rss:
        command = [PY, "-I", "-S", RSS_LAUNCHER, str(rusage_path), *command]
    with (
        stderr_path.open("wb") as stderr,
        stdout_path.open("wb") as stdout,
        stdin_file.open("rb") as stdin,
    ):
        started, clock = time.time(), time.perf_counter()
        proc = subprocess.Popen(
            command,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=full_env,
            cwd=cwd or workdir,
            start_new_session=own_rss,  # the watchdog then stops the command too
        )
        kill = (lambda: os.killpg(proc.pid, signal.SIGKILL)) if own_rss else proc.kill
        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # e.g. Ctrl-C: a command in its own session would live on
            if own_rss:
                os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - clock
        ended = time.time()
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu, max_rss_kib = usage.ru_utime + usage.ru_stime, usage.ru_maxrss  # Linux reports KiB
    if own_rss and rusage_path.exists():
        own = json.loads(rusage_path.read_text(encoding="utf-8"))
        cpu, max_rss_kib = own["cpu"], own["max_rss_kib"]
    run = Run(
        label=label,
        wall=wall,
        cpu=cpu,
        max_rss_mb=max_rss_kib * 1024 / 1e6,
        returncode=proc.returncode,
        started=started,
        ended=ended,
        stderr_path=stderr_path,
        stdout_path=stdout_path if keep_stdout else None,
    )
    if run.returncode != 0:
        tail = stderr_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{label} exited {run.returncode} after {wall:.1f} s:\n{tail}")
    return run


# -- the tools' own reports ------------------------------------------------------------

_METRIC = re.compile(r"METRIC: (\{.*\})\s*$")


def singer_record_counts(stderr_path: Path) -> dict[str, int]:
    """Records per stream from singer-sdk's ``record_count`` metrics on stderr."""
    counts: dict[str, int] = {}
    for line in stderr_path.read_text(errors="replace").splitlines():
        match = _METRIC.search(line)
        if not match or '"record_count"' not in line:
            continue
        metric = json.loads(match.group(1))
        if metric.get("metric") == "record_count":
            stream = metric["tags"]["stream"]
            counts[stream] = counts.get(stream, 0) + int(metric["value"])
    return counts


def singer_records(stdout_path: Path) -> dict[str, int]:
    """RECORD messages per stream in a tap's output."""
    counts: dict[str, int] = {}
    with stdout_path.open("rb") as lines:
        for line in lines:
            if b'"RECORD"' in line[:40]:
                stream = json.loads(line)["stream"]
                counts[stream] = counts.get(stream, 0) + 1
    return counts


def catalog(discover: list[str], selected: set[str], path: Path) -> Path:
    """Discover with ``discover`` and write a catalog selecting only ``selected``."""
    output = subprocess.run(discover, check=True, capture_output=True, text=True).stdout
    doc = json.loads(output)
    found = set()
    for stream in doc["streams"]:
        chosen = stream["tap_stream_id"] in selected
        found.add(stream["tap_stream_id"])
        for entry in stream.get("metadata", []):
            if entry.get("breadcrumb") == []:
                entry["metadata"]["selected"] = chosen
    missing = selected - found
    if missing:
        raise RuntimeError(f"streams {sorted(missing)} not in the catalog of {discover}")
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


# -- machine facts ---------------------------------------------------------------------


def machine_facts() -> dict[str, str]:
    import platform  # noqa: PLC0415
    from importlib import metadata  # noqa: PLC0415

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "date (UTC)": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "CPU": model,
        "cores": f"{os.cpu_count()} ({usable} usable)",
        "load average at start": load,
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "OS": platform.platform(),
        "tap-commerce": version("tap-commerce"),
        "singer-sdk": version("singer-sdk"),
        "dlt": version("dlt"),
    }


def tap_command(config: Path, catalog_path: Path | None = None) -> list[str]:
    command = [tool("tap-commerce"), "--config", str(config)]
    return command + (["--catalog", str(catalog_path)] if catalog_path else [])


def dlt_command(
    config: Path, workdir: Path, resources: list[str], *, parallel: bool = False
) -> list[str]:
    command = [PY, DLT_EXTRACT, "--config", str(config), "--resources", ",".join(resources)]
    command += ["--workdir", str(workdir), "--result", str(workdir / "result.json")]
    return command + (["--parallel-children"] if parallel else [])


def dlt_records(workdir: Path) -> dict[str, int]:
    return json.loads((workdir / "result.json").read_text(encoding="utf-8"))["records"]


def definition_config(config: Path, folder: Path) -> Path:
    """The sandbox's payments config with `DEFINITION` in place of the built-in: ``api``
    dropped (beside ``definition`` it would make the file extend the built-in), the rest
    (``base_url``, ``api_key``, ``requests_per_second``) as the sandbox wrote it."""
    settings = json.loads(config.read_text(encoding="utf-8"))
    settings.pop("api", None)
    settings["definition"] = str(DEFINITION)
    path = folder / "payments_inferred.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path


def large_stream_commands(config: Path, folder: Path, stream: str) -> dict[str, list[str]]:
    """The tools of part (a), each reading only ``stream`` of payments (`TOOLS` order, the
    `DEFINITION_LEG` right after the built-in tap-commerce so the two take turns side by
    side); dlt writes its extract under ``folder / "dlt"``. Each tap's catalog is the one
    its own ``--discover`` writes: the definition leg's schema is inferred there, from the
    first records (two requests, made before the measured runs)."""
    tap_catalog = catalog(
        [tool("tap-commerce"), "--config", str(config), "--discover"],
        {stream},
        folder / "tap.catalog.json",
    )
    user_config = definition_config(config, folder)
    user_catalog = catalog(
        [tool("tap-commerce"), "--config", str(user_config), "--discover"],
        {stream},
        folder / "definition.catalog.json",
    )
    plain_catalog = catalog(
        [PY, PLAIN_TAP, "--config", str(config), "--discover"],
        {stream},
        folder / "plain.catalog.json",
    )
    return {
        TOOLS[0]: tap_command(config, tap_catalog),
        DEFINITION_LEG: tap_command(user_config, user_catalog),
        TOOLS[1]: [PY, PLAIN_TAP, "--config", str(config), "--catalog", str(plain_catalog)],
        TOOLS[2]: dlt_command(config, folder / "dlt", [stream]),
    }


def datetime_fields(catalog_path: Path, stream: str) -> list[str]:
    """The top-level properties of ``stream`` a catalog declares as date-times."""
    doc = json.loads(catalog_path.read_text(encoding="utf-8"))
    entry = next(s for s in doc["streams"] if s["tap_stream_id"] == stream)
    properties = entry["schema"].get("properties", {})
    return sorted(name for name, prop in properties.items() if prop.get("format") == "date-time")


def compare_records(first: Path, second: Path) -> tuple[int, str | None]:
    """Compare the RECORD messages of two taps' outputs, in order, value by value (numbers
    as exact decimals, ``time_extracted`` aside): how many match before the first
    difference, and that difference (None: the same records, as many). Streams the files,
    so the benchmark process does not grow (its size is the floor of later tools' peak
    RSS)."""

    def records(path: Path) -> t.Iterator[tuple[str, dict]]:
        with path.open("rb") as lines:
            for line in lines:
                if b'"RECORD"' in line[:40]:
                    message = json.loads(line, parse_float=Decimal)
                    yield message["stream"], message["record"]

    same = 0
    for a, b in itertools.zip_longest(records(first), records(second)):
        if a != b:
            if a is None or b is None:
                return same, f"record {same + 1}: only in {(first if b is None else second).name}"
            shown = sorted(k for k in set(a[1]) | set(b[1]) if a[1].get(k) != b[1].get(k))
            detail = ", ".join(f"{k}: {a[1].get(k)!r} vs {b[1].get(k)!r}" for k in shown[:3])
            return (
                same,
                f"record {same + 1} ({a[0]} id {a[1].get('id')!r}): {detail or a[0] + ' vs ' + b[0]}",
            )
        same += 1
    return same, None
