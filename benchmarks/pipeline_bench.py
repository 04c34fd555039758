"""Part (e) of the benchmark: the pipeline users run, end to end into PostgreSQL.

``meltano run tap-commerce-<api> target-postgres`` with the project's meltano.yml as shipped
(a copy of it in a project directory of its own, its plugins linked to the installed ones,
Meltano's system database in the same PostgreSQL), beside dlt's ``rest_api_source`` loading
the same API into the same server, the tap alone and the loader alone, each into a fresh
database of one embedded, throwaway PostgreSQL; then every loaded value is checked against
the sandbox's records. See README.md here, part (e).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from harness import BENCH, PY, ROOT, Run, SandboxProcess, measure, singer_records

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline import plugins
from pipeline.meltano import (
    MELTANO,
    PLUGINS,
    MeltanoError,
    installed,
    link_plugins,
    run_environment,
)
from pipeline.postgres import EmbeddedServer, Server

TAP = PLUGINS / "extractors" / "tap-commerce" / "venv" / "bin" / "tap-commerce"
TARGET = PLUGINS / "loaders" / "target-postgres" / "venv" / "bin" / "target-postgres"
DLT_LOAD = str(BENCH / "baselines" / "dlt_load.py")

#: variables of the developer's shell that would leak into a run (as tests/meltano_project.py)
FOREIGN = ("TAP_COMMERCE_", "TARGET_", "MELTANO_", "WAREHOUSE_URI", "DESTINATION__", "DLT_")

#: Loader settings measured beside the shipped ones (which include validate_records false),
#: each on top of them: (label, settings). The values reach target-postgres as environment
#: variables (TARGET_POSTGRES_<NAME>); see `project_copy`.
CANDIDATES: list[tuple[str, dict[str, Any]]] = [
    ("validate_records true (target-postgres's default)", {"validate_records": True}),
    ("batch_size_rows 100000", {"batch_size_rows": 100_000}),
    ("use_copy true", {"use_copy": True}),
]
#: The loader's ceiling: target-postgres fed singer-sdk BATCH files (jsonl, uncompressed,
#: 10,000 records a file) made from the tap's Singer file, the input that skips its per-record
#: work. (label, each record carries its RECORD's version and extraction time, settings).
#: tap-commerce refuses ``batch_config``: see `batch_singer_file`.
BATCH_PROBES: list[tuple[str, bool, dict[str, Any]]] = [
    ("BATCH files of bare records (as singer-sdk writes them)", False, {}),
    ("BATCH files, each record with its version", True, {}),
    ("BATCH files, each record with its version, use_copy true", True, {"use_copy": True}),
]
BATCH_FILE_RECORDS = 10_000
#: target-postgres 0.8.1's batch size when ``batch_size_rows`` is not set (singer-sdk's
#: ``MAX_SIZE_DEFAULT``; its log says "Target sink for 'x' is full. Current size is '10000'")
DEFAULT_BATCH_SIZE_ROWS = 10_000
#: Meltano setting kinds of the candidate settings (target-postgres 0.8.1's --about)
CANDIDATE_KINDS = {
    "validate_records": "boolean",
    "batch_size_rows": "integer",
    "use_copy": "boolean",
}


def env_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def candidate_env(settings: dict[str, Any]) -> dict[str, str]:
    return {f"TARGET_POSTGRES_{name.upper()}": env_value(v) for name, v in settings.items()}


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}


# -- the Meltano project ---------------------------------------------------------------


def meltano_yml() -> dict:
    import yaml  # noqa: PLC0415 - PyYAML comes with singer-sdk

    return yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))


def project_copy(
    root: Path, env_file: Path | None = None, *, declare: tuple[str, ...] = ()
) -> Path:
    """A Meltano project at ``root``: the repository's meltano.yml, its ``.meltano`` linking
    to the installed plugins (as tests/meltano_project.py makes one), and the sandbox's
    ``--write-env`` file, if given, as its ``.env``.

    ``declare`` adds setting *declarations* (name and kind, no value) to target-postgres in
    this copy: Meltano 4.4 passes a loader only the settings its plugin definition declares,
    and sends target-postgres its config as a file (the SDK reads TARGET_POSTGRES_* only with
    ``--config ENV``), so a TARGET_POSTGRES_VALIDATE_RECORDS in the environment of a run of the
    shipped meltano.yml never reaches the loader (`meltano config print target-postgres`
    does not list it). With the declaration it does, from the environment."""
    root.mkdir(parents=True, exist_ok=True)
    if declare:
        import yaml  # noqa: PLC0415

        doc = meltano_yml()
        (loader,) = [p for p in doc["plugins"]["loaders"] if p["name"] == "target-postgres"]
        known = {s["name"] for s in plugins.definition("loaders", "target-postgres")["settings"]}
        loader["settings"] = loader.get("settings", []) + [
            {"name": n, "kind": CANDIDATE_KINDS[n]} for n in declare if n not in known
        ]
        (root / "meltano.yml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    else:
        shutil.copy(ROOT / "meltano.yml", root / "meltano.yml")
    link_plugins(root)
    if env_file is not None:
        shutil.copy(env_file, root / ".env")
    return root


def ensure_meltano() -> None:
    """Meltano and the plugins of meltano.yml, installed as `make test` installs them."""
    try:
        installed()
    except MeltanoError:
        print("    installing Meltano and the plugins of meltano.yml…", flush=True)
        subprocess.run(["make", ".meltano/.installed"], cwd=ROOT, check=True)  # noqa: S607
        installed()


def warm_up() -> None:
    """Each tool of part (e) once, untimed (as harness.warm_up for the others): the tap and
    the loader of the Meltano plugins, and dlt with its postgres destination. Meltano itself
    warms up in `verify_settings_reach_loader`."""
    for command in (
        [str(TAP), "--about"],
        [str(TARGET), "--about"],
        [
            PY,
            "-c",
            (
                "import dlt, psycopg2; from dlt.sources.rest_api import rest_api_source; "
                "from dlt.destinations.impl.postgres import postgres"
            ),
        ],
    ):
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def tap_settings(api: str, sandbox: SandboxProcess) -> dict[str, Any]:
    """The tap's config under `meltano run tap-commerce-<api>`: meltano.yml's config of
    tap-commerce and of tap-commerce-<api>, then the sandbox's settings."""
    extractors = {p["name"]: p for p in meltano_yml()["plugins"]["extractors"]}
    config: dict[str, Any] = {}
    for name in ("tap-commerce", f"tap-commerce-{api}"):
        config.update(extractors[name].get("config") or {})
    return {**config, **sandbox.config(api)}


def loader_settings(api: str, database: Server) -> dict[str, Any]:
    """target-postgres's config under `meltano run`: every setting its plugin definition
    (plugins/loaders/target-postgres.yml) gives a value (load_method upsert,
    add_record_metadata, activate_version, hard_delete …), meltano.yml's config, the
    extractor's load schema, and the warehouse's sqlalchemy_url."""
    (loader,) = [p for p in meltano_yml()["plugins"]["loaders"] if p["name"] == "target-postgres"]
    settings = plugins.definition("loaders", "target-postgres")["settings"]
    config = {s["name"]: s["value"] for s in settings if "value" in s}
    config.update(loader.get("config") or {})
    for name in ("host", "port"):  # sqlalchemy_url overrides them
        config.pop(name, None)
    config["default_target_schema"] = api  # $MELTANO_EXTRACT__LOAD_SCHEMA
    config["sqlalchemy_url"] = database.sqlalchemy_url()
    return config


def dlt_credentials(database: Server) -> str:
    """dlt's connection string for ``database``. dlt insists on a host and a password in
    it; libpq's ``host`` query parameter (the socket directory) overrides the URL's host,
    and the embedded server (``trust``) ignores the password."""
    if not database.is_socket:
        password = quote(database.password or "unused", safe="")
        return (
            f"postgresql://{quote(database.user, safe='')}:{password}@{database.host}:"
            f"{database.port or 5432}/{quote(database.database, safe='')}"
        )
    return (
        f"postgresql://{quote(database.user, safe='')}:unused@localhost:{database.port or 5432}/"
        f"{quote(database.database, safe='')}?host={quote(database.host, safe='')}"
    )


# -- checking what was loaded ------------------------------------------------------------


def served_records(sandbox_url: str, api: str, stream: str) -> list[dict]:
    """The sandbox's records, numbers as exact decimals."""
    url = f"{sandbox_url}/_admin/data/{api}/{stream}"
    with urllib.request.urlopen(url, timeout=120) as response:
        return json.loads(response.read(), parse_float=Decimal)["records"]


@dataclasses.dataclass
class Check:
    """What one load left in the database against what the sandbox serves."""

    rows: int = 0
    expected: int = 0
    missing: int = 0
    extra: int = 0
    duplicates: int = 0
    deleted: int = 0  # rows marked _sdc_deleted_at after a complete load
    tables_missing: list[str] = dataclasses.field(default_factory=list)
    count_problems: list[str] = dataclasses.field(default_factory=list)
    column_problems: list[str] = dataclasses.field(default_factory=list)
    wrong: dict[str, int] = dataclasses.field(default_factory=dict)  # stream.column -> rows
    examples: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def wrong_rows(self) -> int:
        return sum(self.wrong.values())

    @property
    def problems(self) -> int:
        return (
            self.missing
            + self.extra
            + self.duplicates
            + self.deleted
            + self.wrong_rows
            + len(self.tables_missing)
            + len(self.count_problems)
            + len(self.column_problems)
        )

    def summary(self) -> str:
        if not self.problems:
            return "0"
        parts = []
        for what, n in (
            ("missing", self.missing),
            ("unexpected", self.extra),
            ("duplicate keys", self.duplicates),
            ("marked deleted", self.deleted),
        ):
            if n:
                parts.append(f"{n:,} {what}")
        if self.tables_missing:
            parts.append(f"tables missing: {', '.join(self.tables_missing)}")
        parts += self.count_problems
        parts += self.column_problems
        for column, n in sorted(self.wrong.items(), key=lambda kv: -kv[1]):
            parts.append(f"{column}: {n:,} wrong ({self.examples[column]})")
        return "; ".join(parts)


def merge_checks(a: Check, b: Check) -> Check:
    """Two rounds' checks as one: the worse of each count, every wrong column."""
    merged = Check(
        rows=max(a.rows, b.rows),
        expected=max(a.expected, b.expected),
        missing=max(a.missing, b.missing),
        extra=max(a.extra, b.extra),
        duplicates=max(a.duplicates, b.duplicates),
        deleted=max(a.deleted, b.deleted),
        tables_missing=sorted(set(a.tables_missing) | set(b.tables_missing)),
        count_problems=list(dict.fromkeys(a.count_problems + b.count_problems)),
        column_problems=list(dict.fromkeys(a.column_problems + b.column_problems)),
    )
    for column in set(a.wrong) | set(b.wrong):
        merged.wrong[column] = max(a.wrong.get(column, 0), b.wrong.get(column, 0))
        merged.examples[column] = a.examples.get(column) or b.examples[column]
    return merged


def _kinds(schema: dict) -> set[str]:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _short(problem: str) -> str:
    """``payments.order_payments[1].amount: expected X, got Y`` → ``id 1: expected X, got Y``."""
    match = re.match(r"^[^\[]*\[(.*?)\]\.[^:]*: (.*)$", problem, re.DOTALL)
    text = f"key {match.group(1)}: {match.group(2)}" if match else problem
    return text if len(text) <= 160 else text[:157] + "…"


def check_rows(
    check: Check,
    api: str,
    stream: str,
    expected: list[dict],
    rows: list[dict],
    columns: dict[str, str | None],
    key_column: str,
) -> None:
    """Compare ``rows`` with ``expected``: keys, duplicates, and each property in
    ``columns`` (property -> the loaded column; None: a column the loader did not create,
    which then must be null in every record)."""
    from tests import warehouse  # noqa: PLC0415

    schema = warehouse.stream_schema(api, stream)
    key = warehouse.primary_key(api, stream)
    check.rows += len(rows)
    check.expected += len(expected)
    by_key: dict[Any, dict] = {}
    for row in rows:
        k = row[key_column]
        if k in by_key:
            check.duplicates += 1
        by_key[k] = row
        if row.get("_sdc_deleted_at") is not None:
            check.deleted += 1
    wanted = {record[key]: record for record in expected}
    check.missing += len(wanted.keys() - by_key.keys())
    check.extra += len(by_key.keys() - wanted.keys())
    # (property, column, its schema, compared as is): values equal as they are (same type,
    # equal) agree whatever the schema, but for date-times, which tests/warehouse.py's
    # `mismatch` compares as instants, and objects and arrays, which it compares field by
    # field; anything else goes to `mismatch` too, which decides.
    plan = []
    for name, column in columns.items():
        sub = schema["properties"][name]
        plain = sub.get("format") != "date-time" and not ({"object", "array"} & _kinds(sub))
        plan.append((name, column, sub, plain))
    for k, record in wanted.items():
        row = by_key.get(k)
        if row is None:
            continue
        for name, column, sub, plain in plan:
            value = record.get(name)
            actual = row[column] if column is not None else None
            if plain and type(value) is type(actual) and value == actual:
                continue
            problem = warehouse.mismatch(value, actual, sub, f"{stream}[{k}].{name}")
            if problem:
                where = f"{stream}.{name}"
                check.wrong[where] = check.wrong.get(where, 0) + 1
                check.examples.setdefault(where, _short(problem))


def check_target_postgres(
    uri: str, api: str, streams: list[str], expected: dict[str, list[dict]]
) -> Check:
    """Every column of every row, as tests/warehouse.py's `compare_records` checks a load
    (its `mismatch` decides each value): every key, no duplicate, every property a column
    (the ``_sdc_*`` metadata aside), decimals exact, instants equal, objects and arrays field
    by field; and no row marked deleted."""
    from tests import warehouse  # noqa: PLC0415

    check = Check()
    with warehouse.connect(uri) as conn:
        present = warehouse.tables(conn, api)
        for stream in streams:
            if stream not in present:
                check.tables_missing.append(stream)
                continue
            rows = warehouse.table_rows(conn, api, stream)
            schema = warehouse.stream_schema(api, stream)
            names = set(schema["properties"])
            loaded = {c for c in (rows[0] if rows else {}) if not c.startswith("_sdc_")}
            if rows and loaded != names:
                check.column_problems.append(
                    f"{stream} columns: missing {sorted(names - loaded)}, "
                    f"extra {sorted(loaded - names)}"
                )
            columns = {n: (n if n in loaded else None) for n in names}
            check_rows(
                check,
                api,
                stream,
                expected[stream],
                rows,
                columns,
                warehouse.primary_key(api, stream),
            )
    return check


def _dlt_identifier() -> Callable[[str], str]:
    from dlt.common.normalizers.naming.snake_case import NamingConvention  # noqa: PLC0415

    return NamingConvention().normalize_identifier


def check_dlt(uri: str, api: str, streams: list[str], expected: dict[str, list[dict]]) -> Check:
    """dlt's tables have dlt's column names (its snake_case naming; shop's sub-resources
    carry their product as ``_products_id``, from ``include_from_parent``), dlt columns
    (``_dlt_*``), objects flattened into ``a__b`` columns and lists in child tables; a
    property null in every record gets no column. Compared: every key, no duplicate, and
    every top-level scalar property (strings, integers, booleans, decimals exactly,
    date-times as instants); objects and lists are not compared."""
    from tests import warehouse  # noqa: PLC0415

    identifier = _dlt_identifier()
    check = Check()
    with warehouse.connect(uri) as conn:
        present = warehouse.tables(conn, api)
        for stream in streams:
            table = identifier(stream)
            if table not in present:
                check.tables_missing.append(stream)
                continue
            rows = warehouse.table_rows(conn, api, table)
            loaded = set(rows[0]) if rows else set()
            schema = warehouse.stream_schema(api, stream)
            columns: dict[str, str | None] = {}
            for name, sub in schema["properties"].items():
                if _kinds(sub) & {"object", "array"}:
                    continue
                column = "_products_id" if name == "prd_id" else identifier(name)
                columns[name] = column if column in loaded else None
            key = warehouse.primary_key(api, stream)
            check_rows(check, api, stream, expected[stream], rows, columns, identifier(key))
    return check


CHECKERS = {"target-postgres": check_target_postgres, "dlt": check_dlt}


def dump_main(argv: list[str]) -> int:
    """``python pipeline_bench.py dump SANDBOX_URL API STREAMS OUT``: the sandbox's records
    of those streams, as a pickle for the checks (read once per API, not once per load)."""
    sandbox_url, api, streams, out = argv
    expected = {s: served_records(sandbox_url, api, s) for s in streams.split(",")}
    Path(out).write_bytes(pickle.dumps(expected, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


def check_main(argv: list[str]) -> int:
    """``python pipeline_bench.py check KIND URI API EXPECTED OUT``: the check of one load,
    in a process of its own (see `run_check`)."""
    kind, uri, api, expected_path, out = argv
    expected = pickle.loads(Path(expected_path).read_bytes())  # noqa: S301 - our own file
    check = CHECKERS[kind](uri, api, sorted(expected), expected)
    Path(out).write_text(json.dumps(dataclasses.asdict(check)), encoding="utf-8")
    return 0


def dump_expected(sandbox: SandboxProcess, api: str, served: dict[str, int], out: Path) -> Path:
    """The sandbox's records of ``api`` into ``out`` (in a subprocess: see `run_check`)."""
    subprocess.run(
        [PY, __file__, "dump", sandbox.url, api, ",".join(sorted(served)), str(out)], check=True
    )
    return out


def run_check(
    kind: str, database: Server, api: str, expected: Path, served: dict[str, int], out: Path
) -> Check:
    """Check one load in a subprocess: the sandbox's records and the loaded rows (150,000 of
    each take a few hundred MB) never enter this process, whose size would otherwise be the
    floor of every later tool's peak RSS (a child's ``ru_maxrss`` starts at its parent's)."""
    subprocess.run(
        [PY, __file__, "check", kind, database.uri(), api, str(expected), str(out)], check=True
    )
    check = Check(**json.loads(out.read_text(encoding="utf-8")))
    if check.expected != sum(served.values()):
        check.count_problems.append(
            f"the sandbox served {check.expected:,} records, "
            f"its counts say {sum(served.values()):,}"
        )
    return check


# -- the runs ----------------------------------------------------------------------------


@dataclasses.dataclass
class Case:
    """One API of part (e)."""

    api: str
    what: str  # e.g. "payments: order_payments 150,000 + products 400"
    runs: dict[str, Run] = dataclasses.field(default_factory=dict)
    checks: dict[str, Check] = dataclasses.field(default_factory=dict)
    startup: dict[str, float] = dataclasses.field(default_factory=dict)  # meltano runs
    discovery: dict[str, float] = dataclasses.field(default_factory=dict)  # of the start-up
    rounds: dict[str, int] = dataclasses.field(default_factory=dict)  # label -> rounds run
    skipped: list[str] = dataclasses.field(default_factory=list)  # candidates not run


_DONE = re.compile(r"stream '(\w+)': done, ([\d,]+) records")


def tap_done_counts(stderr_path: Path) -> dict[str, int]:
    """Records per stream from tap-commerce's own end-of-stream lines (``stream 'x': done,
    1,234 records, …``): its sub-resources (shop's product children) emit no
    ``record_count`` metric of their own."""
    counts: dict[str, int] = {}
    for match in _DONE.finditer(stderr_path.read_text(errors="replace")):
        counts[match.group(1)] = counts.get(match.group(1), 0) + int(
            match.group(2).replace(",", "")
        )
    return counts


_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z\s+\[\w+\s*\]\s+(\S+)")


def meltano_startup(run: Run, api: str) -> tuple[float, float | None] | None:
    """Seconds from the Meltano process's start to the first line of the sync's tap
    (``tap-commerce-<api>``: after Meltano's start-up, its state read and the catalog
    discovery, which runs the tap once with --discover), and of them the discovery's (from
    Meltano's "Running catalog discovery" line)."""
    discovery_began = None
    for line in run.stderr_path.read_text(errors="replace").splitlines():
        match = _LOG_TIME.match(line)
        if not match:
            continue
        moment = datetime.fromisoformat(match.group(1) + "+00:00").timestamp()
        if match.group(2) == "meltano" and "Running catalog discovery" in line:
            discovery_began = moment
        if match.group(2) == f"tap-commerce-{api}":
            discovery = moment - discovery_began if discovery_began is not None else None
            return moment - run.started, discovery
    return None


def bench_pipeline(
    report: Any,
    work: Path,
    *,
    payments: int,
    shop_products: int,
    table: Callable,
    rounds: int = 2,
) -> None:
    """Part (e). ``report`` and ``table`` are run.py's; ``rounds`` of the headline pair
    (meltano run as shipped, dlt), each keeping its fastest."""
    ensure_meltano()
    folder = work / "e"
    folder.mkdir(parents=True, exist_ok=True)
    env_file = folder / "sandbox.env"
    print(
        f"(e) the pipeline into PostgreSQL: payments.order_payments = {payments:,}, shop with "
        f"{shop_products:,} products; starting PostgreSQL and the sandbox…",
        flush=True,
    )
    postgres = EmbeddedServer(folder / "postgres", throwaway=True)
    cases = []
    try:
        with SandboxProcess(
            folder / "sandbox",
            "--size",
            f"payments.order_payments={payments}",
            "--size",
            f"shop.products={shop_products}",
            "--warm",
            "--write-env",
            str(env_file),
        ) as sandbox:
            warm_up()
            settings_note = verify_settings_reach_loader(folder, env_file, postgres.server)
            cases.extend(
                run_case(api, folder, sandbox, postgres.server, env_file, rounds)
                for api in ("payments", "shop")
            )
    finally:
        postgres.stop()
    report_cases(report, cases, table, settings_note)


def fresh_database(server: Server, name: str) -> Server:
    database = server.with_database(name)
    database.drop_database()
    return database.ensure_database()


def verify_settings_reach_loader(folder: Path, env_file: Path, server: Server) -> str:
    """`meltano config print target-postgres` with the candidates' environment variables
    set, in a copy of the shipped meltano.yml and in one declaring the settings: which of
    them reach the loader."""
    variables = {}
    for _, settings in CANDIDATES:
        variables.update(candidate_env(settings))
    database = fresh_database(server, "e_settings")
    seen = {}
    for label, declare in (("shipped", ()), ("declared", tuple(CANDIDATE_KINDS))):
        root = project_copy(folder / f"settings-{label}", env_file, declare=declare)
        env = run_environment(database, base=clean_environment(), extra=variables)
        out = subprocess.run(
            [str(MELTANO), "config", "print", "target-postgres"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        config = json.loads(out[out.index("{") :])
        seen[label] = sorted(f"{n} {json.dumps(config[n])}" for n in CANDIDATE_KINDS if n in config)
    return (
        "Settings check (`meltano config print target-postgres` with "
        f"{', '.join(sorted(variables))} set): the shipped meltano.yml passes "
        f"{', '.join(seen['shipped']) or 'none of them'} to the loader; a copy declaring the "
        f"three settings (name and kind, no value) passes {', '.join(seen['declared']) or 'none'}."
    )


def batch_singer_file(singer_file: Path, folder: Path, *, versioned: bool) -> Path:
    """The Singer file ``singer_file`` as singer-sdk BATCH messages: each stream's RECORDs
    in jsonl files of `BATCH_FILE_RECORDS` (their text untouched, so every digit stays), a
    BATCH message per file where its records were, every other message in its place.

    singer-sdk's own BATCH files hold bare records, and target-postgres adds no `_sdc_*`
    column to rows it loads from files: the complete read's ACTIVATE_VERSION then marks
    every row deleted (a NULL version counts as an old one). With ``versioned`` each record
    also carries ``_sdc_table_version`` and ``_sdc_extracted_at`` from its RECORD message,
    as target-postgres would have added them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    out_path = folder / "batch.singer"
    pending: dict[str, list[str]] = {}
    files = 0
    with singer_file.open(encoding="utf-8") as lines, out_path.open("w", encoding="utf-8") as out:

        def flush(stream: str) -> None:
            nonlocal files
            records = pending.pop(stream, [])
            if not records:
                return
            files += 1
            path = folder / f"{stream}-{files}.jsonl"
            path.write_text("".join(records), encoding="utf-8")
            message = {
                "type": "BATCH",
                "stream": stream,
                "encoding": {"format": "jsonl", "compression": "none"},
                "manifest": [path.as_uri()],
            }
            out.write(json.dumps(message) + "\n")

        for line in lines:
            if not line.startswith('{"type":"RECORD"'):
                for stream in list(pending):
                    flush(stream)
                out.write(line)
                continue
            head = json.loads(line[: line.index(',"record":')] + "}")
            start = line.index(',"record":') + len(',"record":')
            end = line.rindex(',"version":')  # the tap writes version and time after the record
            record = line[start:end]
            if versioned:
                tail = json.loads("{" + line[end + 1 :])
                record = (
                    f'{record[:-1]},"_sdc_table_version":{tail["version"]},'
                    f'"_sdc_extracted_at":{json.dumps(tail["time_extracted"])}}}'
                )
            batch = pending.setdefault(head["stream"], [])
            batch.append(record + "\n")
            if len(batch) >= BATCH_FILE_RECORDS:
                flush(head["stream"])
        for stream in list(pending):
            flush(stream)
    return out_path


def run_case(
    api: str, folder: Path, sandbox: SandboxProcess, server: Server, env_file: Path, rounds: int
) -> Case:
    case_dir = folder / api
    case_dir.mkdir(parents=True, exist_ok=True)
    served = sandbox.streams()[api]
    streams = sorted(served)
    expected = dump_expected(sandbox, api, served, case_dir / "expected.pickle")
    counts = ", ".join(f"{s} {n:,}" for s, n in sorted(served.items(), key=lambda kv: -kv[1]))
    case = Case(api, f"{api}: {len(streams)} streams, {sum(served.values()):,} records ({counts})")
    n = 0

    def database(label: str) -> Server:
        nonlocal n
        n += 1
        return fresh_database(
            server, f"e_{api}_{n}_{re.sub(r'[^a-z0-9]+', '_', label.lower())}"[:60]
        )

    def done(label: str, run: Run, check: Check | None = None, attempt: int = 0) -> None:
        """Keep ``run`` (the fastest of its rounds) and its check; the mismatches of every
        round count (a round's check is never dropped for a faster round's)."""
        best = case.runs.get(label)
        if best is None or run.wall < best.wall:
            case.runs[label] = run
        case.rounds[label] = max(attempt, 1)  # 0: a run of one round
        if check is not None:
            kept = case.checks.get(label)
            case.checks[label] = check if kept is None else merge_checks(kept, check)
        problems = f", mismatches: {check.summary()}" if check is not None else ""
        round_note = f" (round {attempt})" if attempt else ""
        print(
            f"    {api} {label}{round_note}: {run.wall:.1f} s, {run.max_rss_mb:.0f} MB{problems}",
            flush=True,
        )

    # the tap alone, to /dev/null and (for the loader alone) to a file
    tap_config = case_dir / "tap.json"
    tap_config.write_text(json.dumps(tap_settings(api, sandbox)), encoding="utf-8")
    base_env = clean_environment()
    for label, keep in (("tap alone > /dev/null", False), ("tap alone > file", True)):
        run = measure(
            f"{api} {label}",
            [str(TAP), "--config", str(tap_config)],
            case_dir,
            env=base_env,
            inherit_env=False,
            own_rss=True,
            keep_stdout=keep,
        )
        records = singer_records(run.stdout_path) if keep else tap_done_counts(run.stderr_path)
        if records != served:
            raise RuntimeError(f"{api} {label}: records {records}, the sandbox serves {served}")
        run.records = records
        done(label, run)
    singer_file = case.runs["tap alone > file"].stdout_path
    assert singer_file is not None

    def loader_alone(label: str, settings: dict[str, Any], stdin: Path = singer_file) -> None:
        db = database(label)
        config = case_dir / f"target-{n}.json"
        config.write_text(json.dumps(loader_settings(api, db)), encoding="utf-8")
        command = [str(TARGET), "--config", str(config)]
        if settings:
            command += ["--config", "ENV"]  # the candidate settings, from the environment
        run = measure(
            f"{api} {label}",
            command,
            case_dir,
            env={**base_env, **candidate_env(settings)},
            inherit_env=False,
            own_rss=True,
            stdin_path=stdin,
        )
        done(
            label,
            run,
            run_check("target-postgres", db, api, expected, served, case_dir / f"check-{n}.json"),
        )

    def meltano_run(label: str, settings: dict[str, Any], attempt: int = 0) -> None:
        db = database(label)
        project = project_copy(case_dir / f"project-{n}", env_file, declare=tuple(settings))
        env = run_environment(db, base=base_env, extra=candidate_env(settings))
        run = measure(
            f"{api} {label} round {max(attempt, 1)}",
            [str(MELTANO), "run", f"tap-commerce-{api}", "target-postgres"],
            case_dir,
            env=env,
            inherit_env=False,
            own_rss=True,
            cwd=project,
        )
        check = run_check(
            "target-postgres", db, api, expected, served, case_dir / f"check-{n}.json"
        )
        if label not in case.runs or run.wall < case.runs[label].wall:
            parsed = meltano_startup(run, api)
            if parsed is not None:
                case.startup[label] = parsed[0]
                if parsed[1] is not None:
                    case.discovery[label] = parsed[1]
        done(label, run, check, attempt)

    def dlt_run(label: str, attempt: int = 0) -> None:
        db = database(label)
        workdir = case_dir / f"dlt-{n}"
        workdir.mkdir()
        run = measure(
            f"{api} {label} round {max(attempt, 1)}",
            [
                PY,
                DLT_LOAD,
                "--config",
                str(sandbox.config_path(api)),
                "--credentials",
                dlt_credentials(db),
                "--dataset",
                api,
                "--workdir",
                str(workdir),
                "--result",
                str(workdir / "result.json"),
            ],
            case_dir,
            env=base_env,
            inherit_env=False,
            own_rss=True,
        )
        check = run_check("dlt", db, api, expected, served, case_dir / f"check-{n}.json")
        done(label, run, check, attempt)

    loader_alone(LOADER, {})
    # the headline pair: `rounds` rounds, taking turns; each keeps its fastest
    for attempt in range(1, rounds + 1):
        meltano_run(PIPELINE, {}, attempt)
        dlt_run(DLT, attempt)
    # a batch size can change nothing where no stream has more rows than the default batch
    largest = max(served.values())
    candidates = [
        (label, settings)
        for label, settings in CANDIDATES
        if settings.get("batch_size_rows", 0) <= DEFAULT_BATCH_SIZE_ROWS
        or largest > DEFAULT_BATCH_SIZE_ROWS
    ]
    run_labels = {label for label, _ in candidates}
    case.skipped = [label for label, _ in CANDIDATES if label not in run_labels]
    for label, settings in candidates:
        meltano_run(f"{PIPELINE}, {label}", settings)
    for label, settings in candidates:
        loader_alone(f"{LOADER}, {label}", settings)
    for label, versioned, settings in BATCH_PROBES:
        batches = batch_singer_file(
            singer_file,
            case_dir / f"batch-{'versioned' if versioned else 'bare'}",
            versioned=versioned,
        )
        loader_alone(f"{LOADER_RUN} {label}", settings, stdin=batches)
    return case


PIPELINE = "meltano run"
LOADER = "loader alone < file"
#: how every loader-alone run's label starts (< file, < BATCH files …)
LOADER_RUN = "loader alone <"
DLT = "dlt rest_api → postgres"


# -- the report ------------------------------------------------------------------------------


def report_cases(report: Any, cases: list[Case], table: Callable, settings_note: str) -> None:
    lines: list[str] = []
    summary = []
    for case in cases:
        pipeline = case.runs[PIPELINE]
        tap = case.runs["tap alone > /dev/null"]
        loader = case.runs[LOADER]
        dlt = case.runs[DLT]
        rows = []
        for label, run in case.runs.items():
            check = case.checks.get(label)
            startup = case.startup.get(label)
            name = label if label != PIPELINE else f"**{label}** (meltano.yml as shipped)"
            if case.rounds.get(label, 1) > 1:
                name += f", fastest of {case.rounds[label]}"
            rows.append(
                [
                    name,
                    f"{run.wall:.2f}",
                    f"{run.wall / pipeline.wall:.2f}×",
                    f"{run.cpu:.2f}",
                    f"{run.max_rss_mb:.0f}",
                    f"{startup:.2f}" if startup is not None else "—",
                    f"{check.rows:,}" if check else f"{run.total_records:,} (records out)",
                    check.summary() if check else "—",
                ]
            )
        vs_dlt = dlt.wall / pipeline.wall
        bound = max(tap.wall, loader.wall)
        overhead = pipeline.wall / bound
        startup = case.startup.get(PIPELINE)
        lines += [
            f"### {case.api}",
            "",
            case.what + ".",
            "",
            *table(
                [
                    "run",
                    "wall s",
                    "÷ meltano run",
                    "CPU s",
                    "peak RSS MB",
                    "Meltano start-up s",
                    "rows loaded",
                    "mismatches",
                ],
                rows,
            ),
            "",
            (
                f"dlt → postgres wall ÷ meltano run wall: **{vs_dlt:.2f}×** (goal ≥ 2: the "
                f"pipeline twice as fast); meltano run ÷ max(tap alone {tap.wall:.2f} s, loader alone "
                f"{loader.wall:.2f} s): **{overhead:.2f}×**. The tap alone peaks at "
                f"{tap.max_rss_mb:.0f} MB."
            ),
            "",
        ]
        if startup is not None:
            slower = "loader" if loader.wall >= tap.wall else "tap"
            discovery = case.discovery.get(PIPELINE)
            discovery_note = f", {discovery:.1f} s of it" if discovery is not None else ""
            rest = pipeline.wall - startup
            lines += [
                (
                    f"Where the meltano run's {pipeline.wall:.1f} s go: {startup:.1f} s before the "
                    f"tap's first line (Meltano's start-up, its state read and the catalog "
                    f"discovery{discovery_note}), then {rest:.1f} s with tap and loader side by "
                    "side, against "
                    f"{tap.wall:.1f} s for the tap alone and {loader.wall:.1f} s for the loader "
                    f"alone: the {slower} sets the pace, and the pipe costs "
                    f"{rest - bound:+.1f} s over it."
                ),
                "",
            ]
        probes = {
            label: (case.runs[f"{LOADER_RUN} {label}"], case.checks[f"{LOADER_RUN} {label}"])
            for label, _, _ in BATCH_PROBES
            if f"{LOADER_RUN} {label}" in case.runs
        }
        if probes:
            exact_wall, exact_label = min(
                (run.wall, label)
                for label, run in case.runs.items()
                if label.startswith(LOADER_RUN) and not case.checks[label].problems
            )
            probe_text = "; ".join(
                f"{label}: {run.wall:.1f} s ({run.wall / loader.wall:.2f}×), "
                f"mismatches: {check.summary()}"
                for label, (run, check) in probes.items()
            )
            with_startup = (
                f"; with Meltano's start-up before it ({startup:.1f} s), "
                f"**{dlt.wall / (exact_wall + startup):.2f}×**"
                if startup is not None
                else ""
            )
            lines += [
                (
                    "The loader's ceiling. On singer-sdk BATCH files (its file input, which skips "
                    f"target-postgres's per-record work) the loader alone takes: {probe_text}. "
                    f"The fastest exact load of this data is {exact_label!r}, {exact_wall:.1f} s; no "
                    "pipeline through this loader can be faster: dlt → postgres ÷ that "
                    f"ceiling is **{dlt.wall / exact_wall:.2f}×**{with_startup} (the goal: 2×)."
                ),
                "",
            ]
        summary.append(
            [
                case.api,
                f"{pipeline.wall:.2f}",
                f"{dlt.wall:.2f}",
                f"{vs_dlt:.2f}×",
                f"{tap.wall:.2f}",
                f"{loader.wall:.2f}",
                f"{overhead:.2f}×",
                f"{tap.max_rss_mb:.0f}",
            ]
        )
        report.at_least(
            f"e-{case.api}",
            f"{case.api}: dlt → postgres wall ÷ meltano run wall",
            vs_dlt,
            2,
        )
        check = case.checks[PIPELINE]
        report.flag(
            f"e-{case.api}-values",
            f"{case.api}: meltano run, loaded values vs the sandbox",
            f"{check.problems:,} mismatches",
            "0",
            check.problems == 0,
            check.summary(),
        )
    head = table(
        [
            "api",
            "meltano run s",
            "dlt → postgres s",
            "dlt ÷ meltano",
            "tap alone s",
            "loader alone s",
            "meltano ÷ max(tap, loader)",
            "tap peak RSS MB",
        ],
        summary,
    )
    settings_rows = []
    for label, settings in [("shipped (meltano.yml)", {}), *CANDIDATES]:
        suffix = f", {label}" if settings else ""
        row: list[object] = [label]
        problems = []
        for case in cases:
            shipped, alone = case.runs[PIPELINE], case.runs[LOADER]
            if label in case.skipped:
                row += ["— (no stream above the default batch)", "—", "—", "—"]
                continue
            run, loader = case.runs[PIPELINE + suffix], case.runs[LOADER + suffix]
            row += [
                f"{run.wall:.2f} ({run.wall / shipped.wall:.2f}×)",
                f"{loader.wall:.2f} ({loader.wall / alone.wall:.2f}×)",
                f"{case.runs[DLT].wall / run.wall:.2f}×",
                f"{max(run.max_rss_mb, loader.max_rss_mb):.0f}",
            ]
            problems.extend(
                f"{case.api} {name}: {case.checks[name].summary()}"
                for name in (PIPELINE + suffix, LOADER + suffix)
                if case.checks[name].problems
            )
        row.append("; ".join(problems) or "0")
        settings_rows.append(row)
    settings_head = ["loader settings"]
    for case in cases:
        settings_head += [
            f"{case.api}: meltano run s (÷ shipped)",
            f"{case.api}: loader alone s (÷ shipped)",
            f"{case.api}: dlt ÷ meltano run",
            f"{case.api}: peak RSS MB",
        ]
    settings_head.append("mismatches")
    most = max(max(c.rounds.values()) for c in cases)
    rounds_note = (
        f"meltano run as shipped and dlt: {most} rounds, taking turns, each keeping its "
        "fastest (the mismatches of every round count); every other run: one round. "
        if most > 1
        else "One round each. "
    )
    skipped = sorted({label for c in cases for label in c.skipped})
    if skipped:
        rounds_note += (
            f"Not run where no stream has more than {DEFAULT_BATCH_SIZE_ROWS:,} rows (target-"
            f"postgres's default batch, so the setting changes nothing): {'; '.join(skipped)}. "
        )
    cases_text = [
        *head,
        "",
        "Loader settings (each row: meltano run and the loader alone, both APIs):",
        "",
        *table(settings_head, settings_rows),
        "",
        (
            "Each run loads one API into a fresh database of one embedded PostgreSQL (throwaway: "
            "fsync off), from one sandbox process (`--warm`, no latency, unpaced). **meltano run**: "
            "`meltano run tap-commerce-<api> target-postgres` in a copy of the shipped meltano.yml "
            "(plugins linked to .meltano; the sandbox's `--write-env` file as its `.env`; Meltano's "
            "system database in the same database, schema `meltano`). **dlt**: `rest_api_source` "
            "with the fixed seed config (as parts a and b; shop's shipping zones keyed on `uuid`), "
            "`pipeline.run()` into the `postgres` destination, `write_disposition: merge` on the "
            "primary key, uncompressed load files. **tap alone**: the Meltano plugin's tap-commerce "
            "with the config Meltano gives it, stdout to /dev/null (and once to a file). **loader "
            "alone**: the plugin's target-postgres on that file, with meltano.yml's loader settings "
            "(load_method upsert, add_record_metadata, activate_version, hard_delete false). Candidate "
            "settings reach the loader as TARGET_POSTGRES_* variables: for the loader alone with "
            "`--config ENV`, for meltano run in a project copy declaring the three settings (no "
            f"values). {rounds_note}Wall time is process start to exit; CPU time and "
            "peak RSS come from `wait4` through benchmarks/rss_launcher.py (for meltano run: CPU "
            "summed over Meltano, tap and loader; the peak of the largest of them)."
        ),
        "",
        settings_note,
        "",
        (
            "Mismatches: after each load every row is read back and compared with the sandbox's "
            "records. target-postgres tables: every key present once, no extra row, no row marked "
            "deleted, every column (tests/warehouse.py's comparison: decimals exact to the last "
            "digit, date-times as instants, objects and arrays field by field). dlt tables: keys, "
            "duplicates and every top-level scalar column (dlt's names; decimals, date-times, "
            "strings, integers, booleans); its flattened objects and child tables are not compared."
        ),
        "",
        *lines,
    ]
    report.section("(e) The pipeline into PostgreSQL: meltano run vs dlt", cases_text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["check"]:
        sys.exit(check_main(sys.argv[2:]))
    if sys.argv[1:2] == ["dump"]:
        sys.exit(dump_main(sys.argv[2:]))
    sys.exit(
        "usage: pipeline_bench.py check KIND URI API EXPECTED OUT | dump SANDBOX_URL API "
        "STREAMS OUT (run.py runs part e)"
    )
