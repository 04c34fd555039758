"""Where tap-commerce spends its time on the large stream of part (a).

    .venv-bench/bin/python benchmarks/profile_tap.py [--records 250000] [--out FILE]
        [--leg built-in|definition]

1. A per-page timeline from the sandbox's request log, for each tool of part (a):
   tap-commerce (the built-in payments and the user definition with an inferred schema),
   the plain singer-sdk tap and dlt: how long the server took per page, and how long each
   client took between a response and its next request (decoding, per-record work,
   writing).
2. A sampling profile of tap-commerce (py-spy, installed in .venv-bench by `make bench`;
   cProfile if py-spy is missing), of the built-in payments or, with ``--leg definition``,
   of the user definition: the top functions by own time, and the time inside the main
   stages of the record path.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from harness import (
    BIN,
    DEFINITION_LEG,
    PY,
    TOOLS,
    SandboxProcess,
    large_stream_commands,
    measure,
    work_directory,
)

STREAM = "order_payments"

#: Stages of the record path: a sample belongs to the first of these functions found on its
#: stack from the leaf up (so an inner stage wins over the loop that called it).
STAGES = [
    (
        "proxy settings read from the environment per request (requests)",
        ("resolve_proxies", "merge_environment_settings"),
    ),
    ("HTTP request and response (requests, urllib3, socket)", ("Transport.send",)),
    ("request preparation (SDK _prepare_request, auth)", ("_prepare_request",)),
    ("JSON decode (msgspec)", ("decode_json",)),
    ("date-time normalisation (tap)", ("normalize_datetimes",)),
    ("per-request metric log line (SDK)", ("_write_request_duration_log",)),
    ("deselected-property check per record (SDK)", ("pop_deselected_record_properties",)),
    (
        "RECORD serialise and write (tap BlockWriter)",
        ("write_message", "write_records", "write_record"),
    ),
    ("RECORD message build (SDK)", ("_generate_record_messages", "_write_record_message")),
    ("bookmark update per record (SDK)", ("_increment_stream_state",)),
    ("rest of parse_response (tap: envelope, fan-out check)", ("parse_response",)),
    ("rest of the page loop (paginator, metrics)", ("request_pages", "request_records")),
    ("window filter and field check (tap get_records)", ("get_records",)),
    ("bookmark of a page (tap)", ("_bookmark_chunk",)),
    (
        "rest of the record loop (SDK's, or the tap's page at a time)",
        ("_sync_pages", "_sync_records"),
    ),
    ("start-up (imports, settings, discovery)", ("<module>",)),
]


def timeline(requests: list[dict]) -> dict[str, float]:
    """Mean server time per page and mean client gap (response sent → next request)."""
    log = sorted((r for r in requests if r["api"] == "payments"), key=lambda r: r["time"])
    server = [r["duration"] for r in log]
    gaps = [b["time"] - (a["time"] + a["duration"]) for a, b in itertools.pairwise(log)]
    span = log[-1]["time"] + log[-1]["duration"] - log[0]["time"]
    return {
        "pages": len(log),
        "server ms/page": statistics.mean(server) * 1000,
        "client ms/page": statistics.mean(gaps) * 1000,
        "span s": span,
    }


def py_spy_profile(command: list[str], folder: Path) -> tuple[list[tuple[str, int]], int]:
    raw = folder / "py-spy.txt"
    # blocking sampling (the default): slower, but every stack is consistent
    spy = [str(BIN / "py-spy"), "record", "--format", "raw", "--rate", "200"]
    with (folder / "py-spy.stderr").open("wb") as err:
        subprocess.run(
            [*spy, "-o", str(raw), "--", *command],
            stdout=subprocess.DEVNULL,
            stderr=err,
            check=True,
        )
    stacks = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        stacks.append((stack, int(count)))
    return stacks, sum(c for _, c in stacks)


_LINE = re.compile(r":\d+\)$")


def stage_of(functions: list[str]) -> str:
    """The stage of a sample: the first stage function found from the leaf up."""
    for function in reversed(functions):
        for label, keys in STAGES:
            if any(function == key or function.endswith("." + key) for key in keys):
                return label
    return "other"


def report_stacks(stacks: list[tuple[str, int]], total: int, out: list[str]) -> None:
    own: collections.Counter[str] = collections.Counter()
    stage_time: collections.Counter[str] = collections.Counter()
    for stack, count in stacks:
        frames = stack.split(";")
        own[_LINE.sub(")", frames[-1])] += count
        stage_time[stage_of([f.split(" (")[0] for f in frames])] += count
    out += [
        "",
        f"Samples: {total} (py-spy, 200 Hz; sampling slows the run, shares stay comparable).",
        "",
        "Time by stage (innermost match):",
        "",
    ]
    out += ["| stage | share |", "|---|---|"]
    out += [f"| {stage} | {n / total * 100:.1f}% |" for stage, n in stage_time.most_common()]
    out += ["", "Top 20 functions by own time:", "", "| function | own share |", "|---|---|"]
    out += [f"| `{frame}` | {n / total * 100:.1f}% |" for frame, n in own.most_common(20)]


def cprofile_profile(command: list[str], folder: Path, out: list[str]) -> None:
    import pstats  # noqa: PLC0415

    prof = folder / "tap.prof"
    subprocess.run(
        [PY, "-m", "cProfile", "-o", str(prof), "-m", "tap_commerce", *command[1:]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    stats = pstats.Stats(str(prof))
    total = stats.total_tt
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:20]
    out += [
        "",
        f"cProfile (deterministic; inflates per-call costs), total {total:.1f} s:",
        "",
        "| function | own s | own share | calls |",
        "|---|---|---|---|",
    ]
    for (file, line, name), (_, calls, own_time, _cum, _) in rows:
        out.append(
            f"| `{name} ({Path(file).name}:{line})` | {own_time:.2f} | "
            f"{own_time / total * 100:.1f}% | {calls} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=250_000)
    parser.add_argument("--out", help="also write the report here (markdown)")
    parser.add_argument(
        "--leg",
        choices=("built-in", "definition"),
        default="built-in",
        help="the tap-commerce leg to profile: the built-in payments (default) or the user "
        "definition whose schema is inferred (benchmarks/definitions/payments_inferred.yml)",
    )
    args = parser.parse_args()
    leg = TOOLS[0] if args.leg == "built-in" else DEFINITION_LEG
    work = work_directory("tap-commerce-profile-")
    out = [f"# tap-commerce on payments `{STREAM}`, {args.records:,} records", ""]
    try:
        with SandboxProcess(
            work, "--scale", "0", "--size", f"payments.{STREAM}={args.records}", "--warm"
        ) as sandbox:
            config = sandbox.config_path("payments")
            commands = large_stream_commands(config, work, STREAM)
            rows = []
            for name, command in commands.items():
                sandbox.reset()
                run = measure(name, command, work)
                line = timeline(sandbox.requests())
                rows.append(
                    f"| {name} | {run.wall:.2f} | {run.cpu:.2f} | {line['pages']} | "
                    f"{line['server ms/page']:.2f} | {line['client ms/page']:.2f} | "
                    f"{run.cpu / args.records * 1e6:.1f} |"
                )
            out += [
                (
                    "Per-page timeline (sandbox request log): *server* = time the sandbox spent on a "
                    "page; *client* = from the response leaving the sandbox to the next request "
                    "arriving (the client's decoding and per-record work for that page)."
                ),
                "",
                (
                    "| tool | wall s | CPU s | pages | server ms/page | client ms/page "
                    "| CPU µs/record |"
                ),
                "|---|---|---|---|---|---|---|",
                *rows,
            ]
            sandbox.reset()
            out += ["", f"Profiled: {leg}."]
            if (BIN / "py-spy").exists():
                stacks, total = py_spy_profile(commands[leg], work)
                report_stacks(stacks, total, out)
            else:
                cprofile_profile(commands[leg], work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
