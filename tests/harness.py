"""Running the tap in-process or as a command, and reading its Singer output."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import simplejson

from tap_commerce.tap import TapCommerce

REPO = Path(__file__).resolve().parent.parent

# Tiny waits everywhere: tests never sleep for backoff seconds.
FAST = {"backoff_factor": 0.001, "max_retry_wait": 0.05, "requests_per_second": 0}


@dataclasses.dataclass
class Output:
    """The parsed Singer messages of one run."""

    messages: list[dict]
    stderr: str = ""
    returncode: int = 0
    stdout: str = ""

    @property
    def records(self) -> dict[str, list[dict]]:
        by_stream: dict[str, list[dict]] = defaultdict(list)
        for message in self.messages:
            if message["type"] == "RECORD":
                by_stream[message["stream"]].append(message["record"])
        return dict(by_stream)

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict:
        return self.states[-1]

    def schemas(self, stream: str) -> list[dict]:
        return [m for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream]


def parse_lines(text: str) -> list[dict]:
    """Singer lines, numbers kept exact."""
    return [simplejson.loads(line, use_decimal=True) for line in text.splitlines() if line.strip()]


def run(config: dict, *, state: dict | None = None, catalog: dict | None = None) -> Output:
    """Sync in-process (fast; exceptions propagate to the test)."""
    output, error = run_until_failure(config, state=state, catalog=catalog)
    if error is not None:
        raise error
    return output


def run_until_failure(
    config: dict, *, state: dict | None = None, catalog: dict | None = None
) -> tuple[Output, Exception | None]:
    """Sync in-process; return what was written before a failure, and the failure."""
    buffer = io.BytesIO()
    stdout = io.TextIOWrapper(buffer, encoding="utf-8")
    tap = TapCommerce(config={**FAST, **config}, state=state, catalog=catalog)
    error: Exception | None = None
    with contextlib.redirect_stdout(stdout):
        try:
            tap.sync_all()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            error = exc
        stdout.flush()
    return Output(parse_lines(buffer.getvalue().decode())), error


def run_cli(
    args: list[str],
    *,
    config: dict | None = None,
    tmp_path: Path,
    env: dict | None = None,
    timeout: float = 120,
) -> Output:
    """Run the ``tap-commerce`` command in a subprocess (exit codes, logs, redaction)."""
    argv = [sys.executable, "-m", "tap_commerce", *args]
    if config is not None:
        path = tmp_path / "config.json"
        path.write_text(json.dumps({**FAST, **config}))
        argv += ["--config", str(path)]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if "--discover" in args:
        messages = [json.loads(proc.stdout)] if proc.returncode == 0 else []
    else:
        messages = parse_lines(proc.stdout) if proc.stdout.lstrip().startswith("{") else []
    return Output(messages, proc.stderr, proc.returncode, proc.stdout)


def write_json(path: Path, value: object) -> Path:
    path.write_text(simplejson.dumps(value, use_decimal=True))
    return path


def dumps(value: object) -> str:
    """JSON with `Decimal` values written exactly, as an API would."""
    return simplejson.dumps(value, use_decimal=True)


D = Decimal


def free_port() -> int:
    """A loopback port no one listens on now (for a server a test starts by its number)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shell(
    script: str, cwd: Path, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``bash -c script`` in ``cwd``, this interpreter's scripts (tap-commerce…) first on PATH."""
    base = {**os.environ, **(env or {})}
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base['PATH']}"
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", "-c", script],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
