"""The shell commands the README and docs/ show. Every ``sh`` block is marked, on the line
before it, either ``<!-- tested: <test file>::<test> -->`` (that test runs it as written,
but for the sandbox's port) or ``<!-- not run by the tests: <why> -->`` (it needs your
account or your database); this module checks the marks and runs the blocks no other test
runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.harness import REPO, free_port, parse_lines, shell
from tests.meltano_project import Project

PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
_MARK = re.compile(r"<!-- (tested: (?P<test>\S+) |not run by the tests: (?P<why>.+) )-->")


def shell_blocks() -> list[tuple[Path, str, str]]:
    """(page, the mark's line, the block) of every ``sh`` block."""
    found = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines):
            if line.strip() == "```sh":
                end = lines.index("```", number + 1)
                found.append((page, lines[number - 1], "\n".join(lines[number + 1 : end])))
    return found


def block(page: str, test: str) -> list[str]:
    """The lines of the block of ``page`` marked as run by ``test``."""
    (text,) = [
        text
        for path, mark, text in shell_blocks()
        if path == REPO / page and mark.endswith(f"::{test} -->")
    ]
    return text.splitlines()


def test_every_shell_block_is_run_by_a_named_test_or_says_why_not() -> None:
    blocks = shell_blocks()
    assert len(blocks) >= 9
    for page, mark, _ in blocks:
        match = _MARK.fullmatch(mark.strip())
        assert match, f"{page.relative_to(REPO)}: a sh block without a mark: {mark!r}"
        if match["test"]:
            path, _, name = match["test"].partition("::")
            assert f"def {name}(" in (REPO / path).read_text(encoding="utf-8"), match["test"]


def test_the_readme_sandbox_commands_run(tmp_path: Path) -> None:
    """As written, but for the install line (what `make` did for this environment) and
    the port; the script waits for the configs the sandbox writes before the tap reads
    them, then stops the sandbox."""
    install, serve, *rest = block("README.md", "test_the_readme_sandbox_commands_run")
    assert install.startswith("pip install . ./sandbox")
    assert serve.endswith("&")
    port = str(free_port())
    wait = "for _ in $(seq 200); do [ -f configs/shop.json ] && break; sleep 0.05; done"
    script = "\n".join(
        ["set -euo pipefail", serve.replace("8765", port), wait, *rest, "kill %1", "wait || true"]
    )
    done = shell(script, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    catalog = json.loads((tmp_path / "catalog.json").read_text())
    assert len(catalog["streams"]) == 14
    messages = parse_lines((tmp_path / "shop.singer").read_text())
    streams = {m["stream"] for m in messages if m["type"] == "RECORD"}
    assert {"products", "orders", "products_reviews"} <= streams


def test_the_operations_config_commands_run_on_this_meltano(tmp_path: Path, fresh_database) -> None:
    """Meltano 4's syntax (`meltano config set <plugin> <setting> <value>`), on a copy of
    this project, with obviously fake values for the credentials; the last two lines name
    your database and run against your account, so they are not run."""
    lines = block("docs/operations.md", "test_the_operations_config_commands_run_on_this_meltano")
    *settings, export, run = lines
    assert export.startswith("export TARGET_POSTGRES_SQLALCHEMY_URL=")
    assert run.startswith("meltano run tap-commerce-shop target-postgres")
    project = Project(tmp_path / "project", fresh_database("doc_commands"))
    for line in settings:
        for command in line.split(" && "):
            argv = command.replace("…", "fake-value-for-tests").split()
            assert argv[:3] == ["meltano", "config", "set"], command
            project.run(*argv[1:])
    env_file = (project.root / ".env").read_text()
    assert "TAP_COMMERCE_SHOP_API_SECRET='fake-value-for-tests'" in env_file
    assert "start_date: '2024-01-01T00:00:00Z'" in (project.root / "meltano.yml").read_text()
