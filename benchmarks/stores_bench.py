"""Part (f) of the benchmark: many shop stores on Dagster, each at its own rate limit.

50 shop stores (``store-01`` … ``store-50``), each its own sandbox server with the shop
API's rate limit on, time scaled as in part (c), all served by one
``tap-commerce-sandbox stores`` process of their own. A stores file lists them with
``concurrency: {shop: N}``; the ``sync_shop`` job of `orchestrate.definitions` runs them
with Dagster's multiprocess executor (``dagster.execute_job``, a real process per step, at
most N at once), each step one ``meltano run --state-id-suffix=<store> tap-commerce-shop
target-postgres`` through Dagster Pipes, on a Dagster instance made from
``orchestrate/dagster.yaml`` (runs, events and pools in PostgreSQL), into the embedded
PostgreSQL. Then one ``meltano run`` per API at the sandbox's default sizes, unpaced, and
a second one after no change, give each API's requests and CPU per sync: how many stores
one 2-core worker keeps in sync within an hour. See README.md here, part (f).

``python stores_bench.py job API OUT`` is the measured job process (run.py starts it);
`sync_job` is what Dagster's step processes rebuild the job from.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from harness import BENCH, PY, ROOT, Run, SandboxProcess, measure, tool
from typing_extensions import Self

#: the API of the many stores, and the loader
API = "shop"
LOADER = "target-postgres"
APIS = ("storefront", "payments", "shop", "digital", "orders")
#: cores of the worker the figures are for
CORES = 2
#: seconds in the hour every store must be synced within
HOUR = 3600
#: memory of the worker whose parallel runs are counted (a common 2-vCPU size)
WORKER_GB = 8
#: how often the memory of the job's processes is sampled
SAMPLE_SECONDS = 0.5
#: retries of a failed sync (the stores file's default, without its 60 s delay): the first
#: syncs of stores into an empty schema can race to create the same table (reported)
RETRIES = 3


def store_names(count: int) -> list[str]:
    return [f"store-{n:02d}" for n in range(1, count + 1)]


def variable(name: str, setting: str) -> str:
    return f"{API}_{name}_{setting}".upper().replace("-", "_")


# -- the job process (and what Dagster's step processes rebuild) --------------------------


def sync_job(api: str) -> Any:
    """The ``sync_<api>`` job of the stores file ``TAP_COMMERCE_STORES`` names, built by
    `orchestrate.definitions.from_environment` as a deployment builds it. Module-level, so
    that `dagster.build_reconstructable_job` can point every step process at it."""
    from orchestrate.definitions import from_environment  # noqa: PLC0415

    return from_environment().resolve_job_def(f"sync_{api}")


def job_main(argv: list[str]) -> int:
    """``job API OUT``: run ``sync_<API>`` with its multiprocess executor on the instance
    of ``DAGSTER_HOME``, then read every step's outcome and its asset's materialization
    back from the instance's event log into ``OUT`` (JSON)."""
    api, out = argv
    import dagster as dg  # noqa: PLC0415

    from orchestrate.stores import dagster_name, load  # noqa: PLC0415

    job = dg.build_reconstructable_job(
        "stores_bench",
        "sync_job",
        reconstructable_args=(api,),
        reconstructor_working_directory=str(BENCH),
    )
    stores = load(os.environ["TAP_COMMERCE_STORES"]).of(api)
    with dg.DagsterInstance.get() as instance:
        began = time.time()
        result = dg.execute_job(job, instance=instance, raise_on_error=False)
        ended = time.time()
        run_id = result.run_id
        stats = instance.get_run_stats(run_id)
        steps = {s.step_key: s for s in instance.get_run_step_stats(run_id)}
        failures = {
            event.step_key: error_text(event.event_specific_data.error)
            for event in result.all_events
            if event.event_type_value == "STEP_FAILURE" and event.event_specific_data.error
        }
        retried: dict[str, list[str]] = {}
        for event in result.all_events:
            if event.event_type_value == "STEP_UP_FOR_RETRY":
                error = getattr(event.event_specific_data, "error", None)
                retried.setdefault(event.step_key, []).append(error_text(error))
        found: dict[str, Any] = {}
        for store in stores:
            key = dg.AssetKey([api, store.name.replace("-", "_")])
            event = instance.get_latest_materialization_event(key)
            step = steps.get(dagster_name(store))
            entry: dict[str, Any] = {
                "step": dagster_name(store),
                "status": step.status.value if step and step.status else None,
                "started": step.start_time if step else None,
                "ended": step.end_time if step else None,
                "attempts": step.attempts if step else None,
                # each attempt's start and end (a retry's STEP_RESTARTED to its end)
                "attempt_times": [
                    [m.start_time, m.end_time] for m in (step.attempts_list if step else [])
                ],
                "failure": failures.get(dagster_name(store)),
                "retried": retried.get(dagster_name(store), []),
                "metadata": None,
            }
            if event is not None and event.run_id == run_id and event.asset_materialization:
                entry["metadata"] = {
                    k: v.value for k, v in event.asset_materialization.metadata.items()
                }
            found[store.name] = entry
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    Path(out).write_text(
        json.dumps(
            {
                "success": result.success,
                "run_id": run_id,
                "began": began,
                "ended": ended,
                "run_started": stats.start_time,
                "run_ended": stats.end_time,
                "steps_succeeded": stats.steps_succeeded,
                "steps_failed": stats.steps_failed,
                "orchestrator_cpu": own.ru_utime + own.ru_stime,
                "children_cpu": children.ru_utime + children.ru_stime,
                "stores": found,
            },
            default=str,
        ),
        encoding="utf-8",
    )
    return 0


def error_text(error: Any) -> str:
    """A step's error and its causes (a retried step's is "Exceeded max_retries", caused
    by the last attempt's), each message's last line."""
    messages = []
    while error is not None:
        lines = error.message.strip().splitlines()
        messages.append(lines[-1] if lines else "")
        error = error.cause
    return " ← ".join(messages)[:1000]


# -- memory of a process tree ------------------------------------------------------------


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command name) of every process now."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), name)
    return table


def _pss_kib(pid: int) -> int:
    """The proportional set size of a process (its shared pages split among their users),
    KiB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process so far (not of its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TreeMemory:
    """Samples, every `SAMPLE_SECONDS`, the summed PSS of every descendant of this process
    but the ``exclude`` pids' trees (the sandbox) and PostgreSQL's processes: the peak, and
    how many ``meltano`` processes were running then."""

    def __init__(self, exclude: set[int]) -> None:
        self.exclude = exclude
        self.peak_kib = 0
        self.runs_at_peak = 0
        self.root_kib_at_peak = 0  # of it, the processes this one started (the orchestrator)
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        me = os.getpid()
        while not self._stop.wait(SAMPLE_SECONDS):
            table = _process_table()
            children: dict[int, list[int]] = {}
            for pid, (parent, _) in table.items():
                children.setdefault(parent, []).append(pid)
            roots = [p for p in children.get(me, []) if p not in self.exclude]
            tree, todo = [], list(roots)
            while todo:
                pid = todo.pop()
                if table[pid][1].startswith("postgres") or pid in self.exclude:
                    continue
                tree.append(pid)
                todo.extend(children.get(pid, []))
            sizes = {pid: _pss_kib(pid) for pid in tree}
            total = sum(sizes.values())
            self.samples += 1
            if total > self.peak_kib:
                self.peak_kib = total
                self.root_kib_at_peak = sum(sizes.get(pid, 0) for pid in roots)
                self.runs_at_peak = sum(1 for pid in tree if table[pid][1] == "meltano")

    @property
    def peak_mb(self) -> float:
        return self.peak_kib * 1024 / 1e6

    @property
    def per_run_mb(self) -> float:
        """The peak without the orchestrator, per `meltano run` then running."""
        return (self.peak_kib - self.root_kib_at_peak) * 1024 / 1e6 / max(self.runs_at_peak, 1)

    @property
    def orchestrator_mb(self) -> float:
        return self.root_kib_at_peak * 1024 / 1e6


# -- the sandbox of the stores -----------------------------------------------------------


class StoresSandbox(SandboxProcess):
    """``tap-commerce-sandbox stores FILE --rate-limits …`` in a process of its own (its CPU
    is never counted against a run), each store driven through its own ``/_admin/``;
    stopped as `SandboxProcess` is."""

    def __init__(self, folder: Path, stores_file: Path, *args: str) -> None:
        self.env_file = folder / "stores.env"
        self._log = (folder / "stores-sandbox.log").open("wb")
        command = [
            tool("tap-commerce-sandbox"),
            "stores",
            str(stores_file),
            "--env-file",
            str(self.env_file),
            *args,
        ]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log, text=True)
        assert self.proc.stdout is not None
        self.urls: dict[str, str] = {}
        for line in self.proc.stdout:  # "name  url" per store, then "wrote N variables to F"
            if line.startswith("wrote "):
                break
            name, url = line.split()
            self.urls[name] = url
        else:
            self.stop()
            log = (folder / "stores-sandbox.log").read_text(errors="replace")
            raise RuntimeError(f"the stores' sandbox did not start: {log[-2000:]}")

    def variables(self) -> dict[str, str]:
        """The env file the sandbox wrote (``NAME=value``, values quoted as JSON when they
        have other characters)."""
        variables = {}
        for line in self.env_file.read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition("=")
            variables[name] = json.loads(value) if value.startswith('"') else value
        return variables

    def admin(self, name: str, path: str) -> Any:
        with urllib.request.urlopen(f"{self.urls[name]}/_admin/{path}", timeout=60) as response:
            return json.loads(response.read())


# -- the Meltano project, PostgreSQL -----------------------------------------------------


def upgrade_system_database(project: Path, env: dict[str, str]) -> None:
    """Meltano's tables, made once (as `make dagster` does): syncs that start together on a
    new system database would race to make them. Also warms Meltano's files."""
    from pipeline.meltano import meltano  # noqa: PLC0415

    meltano("upgrade", "database", cwd=project, env=env)


def table_counts(uri: str, schema: str, streams: list[str]) -> dict[str, dict[str, int]]:
    """stream -> store -> rows loaded."""
    import psycopg  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415

    counts: dict[str, dict[str, int]] = {}
    with psycopg.connect(uri, autocommit=True) as conn:
        present = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        }
        for stream in streams:
            if stream not in present:
                counts[stream] = {}
                continue
            query = sql.SQL("SELECT store, count(*) FROM {}.{} GROUP BY store").format(
                sql.Identifier(schema), sql.Identifier(stream)
            )
            counts[stream] = dict(conn.execute(query).fetchall())
    return counts


def single_table_counts(uri: str, schema: str, streams: list[str]) -> dict[str, int]:
    """stream -> rows loaded (every store)."""
    return {
        stream: sum(by_store.values())
        for stream, by_store in table_counts(uri, schema, streams).items()
    }


# -- the figures -------------------------------------------------------------------------


@dataclasses.dataclass
class StoreRun:
    """One store's sync in the job."""

    name: str
    requests: int
    rate: float  # allowed requests per second (its config's requests_per_second)
    limited: int  # 429s its sandbox sent
    seconds: float  # the asset's `seconds`: the meltano run through Pipes
    cpu: float  # `cpu_seconds`: Meltano and its processes
    peak_rss_mb: float  # `peak_rss_mb`: the largest of them
    records: int  # rows loaded for the store
    attempts: int  # 1, or more when the sync failed and was retried
    busy: float  # seconds in a step, all attempts
    # the attempt that succeeded: its start (epoch; STEP_START or STEP_RESTARTED, in the
    # step's own process) and end (STEP_SUCCESS), its requests, the first and last of them
    started: float
    ended: float
    last_requests: int
    first_request: float
    last_request: float

    @property
    def ideal(self) -> float:
        """Every request the store received (a failed attempt's too) ÷ its allowed rate."""
        return self.requests / self.rate

    @property
    def paced(self) -> float:
        """First to last request of the attempt that succeeded ÷ its own ideal."""
        return (self.last_request - self.first_request) / (self.last_requests / self.rate)


@dataclasses.dataclass
class ApiCost:
    """One API at the sandbox's default sizes: a full sync and one after no change."""

    api: str
    records: int
    requests: int
    startup: float  # process start to the first request the sandbox received, s
    wall: float
    cpu: float
    peak_rss_mb: float
    incremental_requests: int
    incremental_wall: float
    incremental_cpu: float
    scale: float = 1.0  # the sandbox's default sizes × this


def spread(values: list[float], fmt: str = ".1f") -> str:
    return (
        f"{min(values):{fmt}} / {statistics.median(values):{fmt}} / {max(values):{fmt}}"
        if values
        else "—"
    )


def stores_file(path: Path, names: list[str], parallel: int) -> Path:
    """The stores file: one shop entry per store, its base URL, credentials and pacing from
    the environment (the sandbox writes them), ``parallel`` syncs at once, a failed sync
    retried at once (`RETRIES`; every retry is reported)."""
    lines = [
        f"concurrency: {{{API}: {parallel}}}",
        f"retries: {{max: {RETRIES}, delay_seconds: 0}}",
        "stores:",
    ]
    for name in names:
        settings = ("base_url", "api_key", "api_secret", "requests_per_second")
        env = ", ".join(f"{s}: {variable(name, s)}" for s in settings)
        lines += [f"  - name: {name}", f"    api: {API}", f"    env: {{{env}}}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_stores_job(
    folder: Path,
    *,
    stores: int,
    parallel: int,
    scale: float,
    time_scale: float,
    server: Any,
) -> dict[str, Any]:
    """The many-stores job, measured: returns what the figures need."""
    from pipeline_bench import clean_environment, project_copy  # noqa: PLC0415

    from pipeline.meltano import MELTANO, run_environment  # noqa: PLC0415

    names = store_names(stores)
    folder.mkdir(parents=True, exist_ok=True)
    path = stores_file(folder / "stores.yml", names, parallel)
    warehouse = server.with_database("f_stores").ensure_database()
    dagster_db = server.with_database("f_dagster").ensure_database()
    project = project_copy(folder / "project")
    home = folder / "dagster-home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "orchestrate" / "dagster.yaml", home / "dagster.yaml")
    args = ["--rate-limits", "--time-scale", str(time_scale), "--scale", str(scale)]
    print(
        f"(f) {stores} {API} stores, scale {scale:g}, time scale {time_scale:g}, "
        f"{parallel} at once: starting their sandbox…",
        flush=True,
    )
    with StoresSandbox(folder, path, *args) as sandbox:
        env = run_environment(warehouse, base=clean_environment(), extra=sandbox.variables())
        env.update(
            DAGSTER_HOME=str(home),
            # Dagster's storage speaks psycopg2 (SQLAlchemy 2.1 picks psycopg 3 otherwise)
            DAGSTER_POSTGRES_URL=dagster_db.uri().replace("postgresql:", "postgresql+psycopg2:"),
            TAP_COMMERCE_STORES=str(path),
            MELTANO_PROJECT_ROOT=str(project),
            MELTANO_EXECUTABLE=str(MELTANO),
            PYTHONPATH=os.pathsep.join([str(ROOT), str(BENCH)]),
        )
        upgrade_system_database(project, env)
        counts = {name: sandbox.admin(name, "streams")[API] for name in names}
        configs = {name: sandbox.admin(name, "configs")[API] for name in names}
        served = sum(sum(c.values()) for c in counts.values())
        print(
            f"    {served:,} records in all ({served // stores:,} a store); running sync_{API}…",
            flush=True,
        )
        result = folder / "job.json"
        sandbox_cpu = cpu_seconds(sandbox.proc.pid)
        load_before = os.getloadavg()
        with TreeMemory(exclude={sandbox.proc.pid}) as memory:
            run = measure(
                f"dagster sync_{API}",
                [PY, str(BENCH / "stores_bench.py"), "job", API, str(result)],
                folder,
                env=env,
                inherit_env=False,
                timeout=3600,
            )
        load_after = os.getloadavg()
        sandbox_cpu = cpu_seconds(sandbox.proc.pid) - sandbox_cpu
        job = json.loads(result.read_text(encoding="utf-8"))
        logs = {name: sandbox.admin(name, "requests")["requests"] for name in names}
        stats = {name: sandbox.admin(name, "stats") for name in names}
    failed = {n: s for n, s in job["stores"].items() if s["status"] != "SUCCESS"}
    if not job["success"] or failed:
        # a step's failure quotes the plugin's error or exception (`orchestrate.meltano_log`)
        detail = "; ".join(f"{n}: {s['status']} {s['failure'] or ''}" for n, s in failed.items())
        raise RuntimeError(f"sync_{API} failed (see {run.stderr_path}): {detail}")
    loaded = table_counts(warehouse.uri(), API, sorted(counts[names[0]]))
    wrong = []
    for name in names:
        for stream, n in counts[name].items():
            got = loaded.get(stream, {}).get(name, 0)
            if got != n:
                wrong.append(f"{name} {stream}: {got:,} rows, the sandbox serves {n:,}")
    strangers = {s for by_store in loaded.values() for s in by_store} - set(names)
    if wrong or strangers:
        raise RuntimeError(
            f"sync_{API}: loaded rows differ from the sandbox's records: "
            + "; ".join(
                wrong[:10] + [f"rows of unknown stores {sorted(strangers)}"] * bool(strangers)
            )
        )
    runs = []
    for name in names:
        meta = job["stores"][name]["metadata"]
        if meta is None:
            raise RuntimeError(f"{name}: no materialization of this run in the event log")
        log = [r for r in logs[name] if r["api"] == API]
        attempts = [(float(a), float(b)) for a, b in job["stores"][name]["attempt_times"]]
        started, ended = attempts[-1]
        # the requests of the attempt that succeeded (a failed one's came before it)
        times = sorted(r["time"] for r in log if r["time"] >= started)
        runs.append(
            StoreRun(
                name=name,
                requests=len(log),
                rate=float(configs[name]["requests_per_second"]),
                limited=stats[name]["429"]["total"],
                seconds=float(meta["seconds"]),
                cpu=float(meta["cpu_seconds"]),
                peak_rss_mb=float(meta["peak_rss_mb"]),
                records=sum(counts[name].values()),
                attempts=len(attempts),
                busy=sum(b - a for a, b in attempts),
                started=started,
                ended=ended,
                last_requests=len(times),
                first_request=times[0],
                last_request=times[-1],
            )
        )
        sent = stats[name]["requests"]["by_api"].get(API, 0)
        if sent != len(log):
            raise RuntimeError(f"{name}: {sent} requests counted, {len(log)} in its log")
    return {
        "runs": runs,
        "job": job,
        "process": run,
        "memory": memory,
        "sandbox_cpu": sandbox_cpu,
        "load": (load_before, load_after),
        "retried": {n: s["retried"] for n, s in job["stores"].items() if s["retried"]},
        # syncs the wrapper ran again at once: their loader lost the race to create a table
        "reruns": {
            name: int(job["stores"][name]["metadata"].get("reruns") or 0)
            for name in names
            if job["stores"][name]["metadata"].get("reruns")
        },
        "records_by_stream": {
            name: job["stores"][name]["metadata"].get("records_by_stream") for name in names
        },
        "served_by_stream": counts,
    }


def measure_api_costs(folder: Path, scale: float, server: Any) -> list[ApiCost]:
    """One `meltano run` per API against an unlimited sandbox at ``scale``, with the
    settings the orchestrator gives a store (its ``store``, no ACTIVATE_VERSION, its own
    state id), then a second one after no change. Requests from the sandbox's log, CPU and
    peak RSS from ``wait4`` (Meltano, discovery, tap and loader)."""
    from pipeline_bench import clean_environment, project_copy  # noqa: PLC0415

    from orchestrate.stores import Store  # noqa: PLC0415
    from pipeline.meltano import MELTANO, run_environment  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    env_file = folder / "sandbox.env"
    costs = []
    print(f"(f) one store per API at scale {scale:g}, unpaced: starting the sandbox…", flush=True)
    with SandboxProcess(
        folder / "sandbox", "--scale", str(scale), "--warm", "--write-env", str(env_file)
    ) as sandbox:
        project = project_copy(folder / "project", env_file)
        database = server.with_database("f_default").ensure_database()
        base = run_environment(database, base=clean_environment())
        upgrade_system_database(project, base)
        for api in APIS:
            store = Store("default", api, f"tap-commerce-{api}", {}, {})
            env = store.environment(base)
            command = [str(MELTANO), "run", f"--state-id-suffix={store.name}", store.extractor]
            command.append(LOADER)
            served = sandbox.streams()[api]
            rounds = []
            for label in ("full", "after no change"):
                sandbox.reset()
                run = measure(
                    f"default {api} {label}",
                    command,
                    folder,
                    env=env,
                    inherit_env=False,
                    own_rss=True,
                    cwd=project,
                )
                log = [r for r in sandbox.requests() if r["api"] == api]
                rounds.append((run, log))
            loaded = single_table_counts(database.uri(), api, sorted(served))
            if loaded != served:
                raise RuntimeError(f"default {api}: loaded {loaded}, the sandbox serves {served}")
            (full, log), (again, again_log) = rounds
            startup = min(r["time"] for r in log) - full.started
            costs.append(
                ApiCost(
                    api=api,
                    records=sum(served.values()),
                    requests=len(log),
                    startup=startup,
                    wall=full.wall,
                    cpu=full.cpu,
                    peak_rss_mb=full.max_rss_mb,
                    incremental_requests=len(again_log),
                    incremental_wall=again.wall,
                    incremental_cpu=again.cpu,
                    scale=scale,
                )
            )
            print(
                f"    {api}: {sum(served.values()):,} records, {len(log)} requests, "
                f"{full.wall:.1f} s, {full.cpu:.1f} CPU s; after no change "
                f"{len(again_log)} requests, {again.cpu:.1f} CPU s",
                flush=True,
            )
    return costs


def bench_many_stores(
    report: Any,
    work: Path,
    table: Any,
    *,
    stores: int,
    parallel: int,
    scale: float,
    time_scale: float,
    default_scale: float,
) -> None:
    """Part (f). ``report`` and ``table`` are run.py's."""
    from pipeline_bench import ensure_meltano  # noqa: PLC0415

    from pipeline.postgres import EmbeddedServer  # noqa: PLC0415

    ensure_meltano()
    folder = work / "f"
    folder.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    load_start = os.getloadavg()
    postgres = EmbeddedServer(folder / "postgres", throwaway=True)
    try:
        many = run_stores_job(
            folder / "stores",
            stores=stores,
            parallel=parallel,
            scale=scale,
            time_scale=time_scale,
            server=postgres.server,
        )
        costs = measure_api_costs(folder / "default", default_scale, postgres.server)
    finally:
        postgres.stop()
    elapsed = time.perf_counter() - began
    load_end = os.getloadavg()
    report_many_stores(
        report,
        table,
        many,
        costs,
        stores=stores,
        parallel=parallel,
        scale=scale,
        time_scale=time_scale,
        elapsed=elapsed,
        loads=(load_start, load_end),
    )


def report_many_stores(
    report: Any,
    table: Any,
    many: dict[str, Any],
    costs: list[ApiCost],
    *,
    stores: int,
    parallel: int,
    scale: float,
    time_scale: float,
    elapsed: float,
    loads: tuple[tuple[float, ...], tuple[float, ...]],
) -> None:
    runs: list[StoreRun] = many["runs"]
    job = many["job"]
    process: Run = many["process"]
    memory: TreeMemory = many["memory"]
    wall = job["run_ended"] - job["run_started"]
    waves = math.ceil(stores / parallel)
    ideal = statistics.mean(r.ideal for r in runs)
    bound = ideal * waves
    limited = sum(r.limited for r in runs)
    retried = many["retried"]
    attempts = sum(len(v) for v in retried.values())
    rate = runs[0].rate
    metadata_cpu = sum(r.cpu for r in runs)
    job_cpu = process.cpu
    overhead = (job_cpu - metadata_cpu) / stores  # Dagster, Pipes, the wrapper, per step
    floor = (job_cpu + many["sandbox_cpu"]) / CORES
    steps = [r.ended - r.started for r in runs]
    startup = [r.first_request - r.started for r in runs]
    pacing = [r.last_request - r.first_request for r in runs]
    paced = [r.paced for r in runs]
    tail = [r.ended - r.last_request for r in runs]
    # the executor's slots outside any step: spawning a step's process, importing Dagster,
    # rebuilding the job, until STEP_START (and after the last round, nothing to run)
    executions = sum(r.attempts for r in runs)
    outside = (parallel * wall - sum(r.busy for r in runs)) / executions
    per_run_mb = memory.per_run_mb
    requests = [r.requests for r in runs]
    records = [r.records for r in runs]
    rows = [
        ["stores × requests each (min / median / max)", f"{stores} × {spread(requests, '.0f')}"],
        ["records loaded each (min / median / max)", spread(records, ",.0f")],
        [f"allowed rate per store (shop's 2 req/s ÷ time scale {time_scale:g})",
         f"{rate:g} req/s"],
        ["one store's ideal, mean (requests ÷ allowed rate)", f"{ideal:.1f} s"],
        [f"ideal × ⌈{stores} ÷ {parallel} parallel runs⌉ = × {waves}", f"{bound:.1f} s"],
        ["**measured wall** (the Dagster run, start to end)", f"**{wall:.1f} s**"],
        ["**wall ÷ (ideal × waves)**", f"**{wall / bound:.2f}×**"],
        [f"CPU floor: (job + sandbox CPU s) ÷ {CORES} cores", f"{floor:.1f} s"],
        ["the job's process, start to exit (Python, Dagster's imports, the read-back)",
         f"{process.wall:.1f} s"],
        ["429 responses (every store's sandbox)", str(limited)],
    ]  # fmt: skip
    per_run = [
        ["step, its start → STEP_SUCCESS (the attempt that succeeded), s", spread(steps)],
        ["of it: step start → first request (Pipes, Meltano, discovery, start-ups), s",
         spread(startup)],
        ["of it: first → last request, s", spread(pacing)],
        ["of it: last request → step end (loader, state, Pipes), s", spread(tail)],
        ["first → last request ÷ ideal (the pacing itself)", spread(paced, ".2f")],
        ["`seconds` (the meltano run through Pipes), s", spread([r.seconds for r in runs])],
        ["**CPU s** (`cpu_seconds`: Meltano, discovery, tap, loader)",
         spread([r.cpu for r in runs])],
        ["**peak RSS MB** (`peak_rss_mb`: the largest of those processes)",
         spread([r.peak_rss_mb for r in runs], ".0f")],
    ]  # fmt: skip
    med = statistics.median
    lines = [
        *table([f"{stores} stores, one job", "value"], rows),
        "",
        *table([f"per run ({stores}), min / median / max", "value"], per_run),
        "",
        (
            f"Where the wall goes: {executions} step executions"
            + (f" ({executions - stores} of them retries)" if executions > stores else "")
            + f" in {parallel} slots, each ≈ {outside:.1f} s of its slot outside any step (the "
            "executor spawning the step's process, Dagster's imports, the job rebuilt; the "
            f"slots left idle at the end) + {med(startup):.1f} s to the first request + "
            f"{med(pacing):.1f} s of paced requests + {med(tail):.1f} s after the last = "
            f"{outside + med(startup) + med(pacing) + med(tail):.1f} s (medians; × "
            f"{executions} ÷ {parallel} = "
            f"{executions / parallel * (outside + med(startup) + med(pacing) + med(tail)):.0f} s "
            f"against the {wall:.0f} s measured). Only the paced part is in the ideal."
        ),
        "",
        (
            f"CPU of the whole job (orchestrator, {stores} step processes, the Pipes wrappers, "
            f"every `meltano run`; wait4): {job_cpu:.0f} s, of which the runs' own "
            f"`cpu_seconds` {metadata_cpu:.0f} s; Dagster's share ("
            + ("the failed attempts' runs included, " if retried else "")
            + "the orchestrator "
            f"{job['orchestrator_cpu']:.0f} s, each step's process and its "
            f"`orchestrate.meltano_run` wrapper) **{overhead:.1f} CPU s per step**. The "
            f"sandbox's process served all {sum(requests):,} requests with "
            f"{many['sandbox_cpu']:.0f} CPU s on the same cores. Job and sandbox kept the "
            f"{CORES} cores {floor / wall * 100:.0f}% busy over the run's wall time. Peak "
            f"memory of the job's processes together (PSS, sampled every {SAMPLE_SECONDS:g} "
            f"s): {memory.peak_mb:,.0f} MB with {memory.runs_at_peak} `meltano run`s at once, "
            f"the orchestrator {memory.orchestrator_mb:,.0f} MB of it: **≈ {per_run_mb:,.0f} MB "
            "per parallel run** (its step process, wrapper, Meltano, tap and loader)."
        ),
    ]
    # -- stores per worker and hour
    rows_hour = []
    verdicts = []
    # parallel runs a worker of WORKER_GB holds: its orchestrator, then runs of per_run_mb
    roomy = max(1, int((WORKER_GB * 1000 - memory.orchestrator_mb) // per_run_mb))
    for cost in costs:
        pacing = _pacing(cost.api)
        cpu_full = cost.cpu + overhead
        cpu_inc = cost.incremental_cpu + overhead
        if pacing:
            sync_full = cost.requests / pacing + cost.startup
            sync_inc = cost.incremental_requests / pacing + cost.startup
        else:
            sync_full, sync_inc = cost.wall, cost.incremental_wall
        full = _per_hour(parallel, sync_full, cpu_full)
        inc = _per_hour(parallel, sync_inc, cpu_inc)
        full_roomy = _per_hour(roomy, sync_full, cpu_full)
        inc_roomy = _per_hour(roomy, sync_inc, cpu_inc)
        needed = math.ceil(CORES * sync_full / cpu_full)
        rows_hour.append(
            [
                cost.api,
                f"{pacing:g}" if pacing else "unpaced (0)",
                f"{cost.records:,}",
                f"{cost.requests:,} / {cost.incremental_requests:,}",
                f"{sync_full:,.0f} / {sync_inc:,.0f}",
                f"{cpu_full:.1f} / {cpu_inc:.1f}",
                f"{cost.peak_rss_mb:.0f}",
                f"**{full[0]:,.0f}** ({full[1]}) / **{inc[0]:,.0f}** ({inc[1]})",
                f"{full_roomy[0]:,.0f} ({full_roomy[1]}) / {inc_roomy[0]:,.0f} ({inc_roomy[1]})",
                f"{needed:,} (≈ {needed * per_run_mb / 1000:,.1f} GB)",
            ]
        )
        verdicts.append(f"{cost.api} {full[0]:,.0f} / {inc[0]:,.0f}")
    measured_scale = costs[0].scale
    sizes = (
        "the sandbox's default sizes (scale 1)"
        if measured_scale == 1
        else f"scale {measured_scale:g} (a smoke run: not the default sizes, not extrapolated)"
    )
    lines += [
        "",
        (
            f"**Stores one {CORES}-core worker keeps in sync within an hour**, per API at its "
            f"real (unscaled) pacing and {sizes}:"
        ),
        "",
        *table(
            [
                "api",
                "pacing req/s",
                "records",
                "requests: full / after no change",
                "sync s: full / no change",
                "CPU s per run: full / no change",
                "peak RSS MB",
                f"**stores/hour, P = {parallel}**: full / after no change",
                f"stores/hour, P = {roomy} ({WORKER_GB:g} GB): full / after no change",
                "P at which CPU binds (its memory)",
            ],
            rows_hour,
        ),
        "",
        (
            f"stores per hour = min(P × {HOUR} ÷ sync s, {CORES} cores × {HOUR} ÷ CPU s per "
            f"run), with P = {parallel} parallel runs (this job's `concurrency`); the bound "
            "that decides is in brackets. sync s = requests ÷ pacing + the start-up (process "
            "start to its first request, measured per API); for payments and orders, which "
            "the tap does not pace (0: their limits are not published), the unpaced run's own "
            "wall time, so only CPU bounds them. CPU s per run = that API's `meltano run` "
            "(wait4 of Meltano and every process under it) + Dagster's share per step "
            f"measured in the job above ({overhead:.1f} s). Requests, CPU and walls come from "
            f"one `meltano run` per API against an unlimited sandbox at {sizes}, with the "
            "orchestrator's store settings, then a second run after no change (incremental "
            f"from its state). P = {parallel} is this job's; at real rates a sync waits on "
            "its pacing most of the time, so a worker can run more at once, as many as its "
            f"memory holds: the next column takes a {CORES}-core worker with {WORKER_GB:g} GB, "
            f"P = ({WORKER_GB:g} GB − the orchestrator's {memory.orchestrator_mb:,.0f} MB) ÷ "
            f"≈ {per_run_mb:,.0f} MB per parallel run (the job's peak above) = {roomy}. The "
            f"last: P at which the CPU bound takes over, P = {CORES} × sync s ÷ CPU s, and the "
            "memory of that many runs."
        ),
        "",
        (
            f"Sizes and settings: {stores} stores of shop at scale {scale:g} (the sandbox's "
            f"default sizes × {scale:g}), `--rate-limits --time-scale {time_scale:g}` as part "
            f"(c), so each store's bucket drains {rate:g} requests/s and the tap paces to that; "
            f"`concurrency: {{shop: {parallel}}}` (the multiprocess executor's "
            f"`max_concurrent`), a failed sync retried at once (up to {RETRIES} times). The part took {elapsed:.0f} s in all; load "
            f"average {_load(loads[0])} at its start, {_load(many['load'][0])} → "
            f"{_load(many['load'][1])} around the job, {_load(loads[1])} at its end."
        ),
    ]
    step_cpu = job_cpu / stores
    slot = wall * parallel / stores
    lines += [
        "",
        (
            f"Why these sizes. Every sync costs about {step_cpu:.1f} CPU s however small its "
            f"store ({statistics.median([r.cpu for r in runs]):.1f} s of Meltano, discovery, "
            f"tap and loader, mostly their start-ups, and {overhead:.1f} s of Dagster), so "
            f"{stores} syncs take ≈ {stores * step_cpu / CORES:.0f} s of both cores whatever "
            f"the data; scale {scale:g} gives each store {statistics.mean(requests):.0f} "
            f"requests, an ideal of {ideal:.1f} s against {med(startup):.1f} s from a step's "
            "start to its first request, so the paced part is a fair share of each sync "
            f"without the part taking long. Why {parallel} at once: a sync used ≈ {step_cpu:.1f} CPU s in "
            f"its ≈ {slot:.1f} s of a slot, {step_cpu / slot:.2f} of a core, so {parallel} "
            f"at once need ≈ {parallel * step_cpu / slot:.1f} of the {CORES} cores (the "
            f"sandbox besides); twice as many would need ≈ {2 * parallel * step_cpu / slot:.1f}, "
            "the more so when a round's syncs start together, and would queue on CPU rather "
            f"than on the rate limit; {stores} ÷ {parallel} "
            + (
                "leaves no round part empty."
                if stores % parallel == 0
                else f"leaves {stores % parallel} in the last round."
            )
        ),
    ]
    reruns = many["reruns"]
    if reruns:
        lines += [
            "",
            (
                f"**Ran again at once**: {len(reruns)} of the {stores} syncs "
                f"({sum(reruns.values())} runs) lost the race to create a table another "
                "store's loader was creating at the same moment (target-postgres looks the "
                "table up, then creates it), and `orchestrate.meltano_run` ran them again "
                "at once, from the state the first run saved; their time is in the wall above."
            ),
        ]
    # why each retried attempt failed: the step's Failure, which quotes the plugin's error
    reasons = list(
        dict.fromkeys(
            r.split(" ← ")[-1].split("Failure: ", 1)[-1].replace("`", "")
            for tries in retried.values()
            for r in tries
        )
    )
    if retried:
        lines += [
            "",
            (
                f"**Retried**: {len(retried)} of the {stores} syncs failed and were retried at "
                f"once (failed attempts: {attempts}; stores file `retries: {{max: {RETRIES}, "
                "delay_seconds: 0}`), each from the state its failed attempt saved; their "
                "time is in the wall above. Why: "
                + " | ".join(f"“{r[:300]}”" for r in reasons[:3])
                + "."
            ),
        ]
    records_note = _metadata_records_note(many)
    if records_note:
        lines += ["", records_note]
    report.section(f"(f) Many stores: {stores} shop stores on Dagster", lines)
    report.flag(
        "f-429",
        f"{stores} shop stores on Dagster: 429 responses",
        str(limited),
        "0",
        limited == 0,
        f"{limited} × 429",
    )
    report.flag(
        "f-retries",
        f"{stores} shop stores on Dagster: syncs that failed and were retried",
        f"{len(retried)} ({attempts} attempts)",
        "0",
        not retried,
        f"{len(retried)} of {stores} stores failed at least once: " + " | ".join(reasons[:3]),
    )
    report.flag(
        "f-rows",
        f"{stores} shop stores on Dagster: rows loaded per store = the sandbox's records",
        f"{sum(records):,} of {sum(records):,}",
        "all",
        True,
        "",
    )
    print(f"    stores per hour, full / after no change: {'; '.join(verdicts)}", flush=True)


def _pacing(api: str) -> float:
    from tap_commerce.loader import builtin  # noqa: PLC0415

    return float(builtin(api).requests_per_second)


def _per_hour(parallel: int, sync: float, cpu: float) -> tuple[float, str]:
    by_rate = parallel * HOUR / sync
    by_cpu = CORES * HOUR / cpu
    return (by_rate, "rate") if by_rate <= by_cpu else (by_cpu, "CPU")


def _load(values: tuple[float, ...]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def _metadata_records_note(many: dict[str, Any]) -> str:
    """How the materializations' `records_by_stream` (the tap's record_count metrics)
    compare with the sandbox's records."""
    differ: dict[str, int] = {}
    for name, by_stream in many["records_by_stream"].items():
        if name in many["retried"]:
            continue  # its last attempt sent what the failed one had not
        served = many["served_by_stream"][name]
        for stream, n in served.items():
            if (by_stream or {}).get(stream) != n:
                differ[stream] = differ.get(stream, 0) + 1
    aside = " (a retried sync's aside: its last attempt sent only the rest)" * bool(many["retried"])
    if not differ:
        return (
            f"Every materialization's `records_by_stream`{aside} equals its store's records, "
            "stream by stream; the rows in PostgreSQL were counted per store and stream as well."
        )
    return (
        "Rows in PostgreSQL were counted per store and stream: every store's equal its "
        f"sandbox's records. The materializations' `records_by_stream`{aside} (the tap's "
        "`record_count` metrics) differ for "
        + ", ".join(f"{s} ({n} stores)" for s, n in sorted(differ.items()))
        + "."
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["job"]:
        sys.path.insert(0, str(ROOT))
        sys.exit(job_main(sys.argv[2:]))
    sys.exit("usage: stores_bench.py job API OUT (run.py runs part f)")
