"""`pip install .` into a fresh virtual environment gives a working, self-contained tap."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from tap_commerce_sandbox import Sandbox

from pipeline import docs
from tests.harness import REPO

SCHEMA_COUNT = 27
APIS = ("digital", "orders", "payments", "shop", "storefront")


def test_the_wheel_ships_the_schemas_and_installs_into_a_fresh_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(REPO)],
        check=True,
    )
    wheel = next(dist.glob("tap_commerce-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    schemas = [n for n in names if n.startswith("tap_commerce/schemas/") and n.endswith(".json")]
    assert len(schemas) == SCHEMA_COUNT
    definitions = sorted(n for n in names if n.startswith("tap_commerce/definitions/"))
    assert definitions == [f"tap_commerce/definitions/{api}.yml" for api in APIS]
    # the example definitions (examples/definitions/), as they are in the source tree
    examples = sorted(n for n in names if n.startswith("tap_commerce/examples/"))
    assert examples == [f"tap_commerce/examples/definitions/{api}.yml" for api in APIS]
    with zipfile.ZipFile(wheel) as archive:
        for api in APIS:
            shipped = archive.read(f"tap_commerce/examples/definitions/{api}.yml")
            assert shipped == (REPO / "examples" / "definitions" / f"{api}.yml").read_bytes()
    assert not any(n.startswith(("tests/", "examples/")) for n in names)

    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True)

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api": "shop"}))
    # run from an empty directory, so nothing can be found through the source tree
    work = tmp_path / "elsewhere"
    work.mkdir()

    def discover() -> subprocess.CompletedProcess[str]:
        command = [str(env / "bin" / "tap-commerce"), "--config", str(config), "--discover"]
        return subprocess.run(command, capture_output=True, text=True, cwd=work, check=False)

    proc = discover()
    assert proc.returncode == 0, proc.stderr
    catalog = json.loads(proc.stdout)
    assert len(catalog["streams"]) == 14
    reviews = next(s for s in catalog["streams"] if s["tap_stream_id"] == "products_reviews")
    assert reviews["schema"]["properties"]["created_at_utc"]["format"] == "date-time"

    # an installed example definition, by its path in the installed package, reads an API
    # (here the sandbox's payments; its schemas are inferred from the first records)
    package = subprocess.run(
        [
            str(python),
            "-c",
            "import tap_commerce, pathlib; print(pathlib.Path(tap_commerce.__file__).parent)",
        ],
        capture_output=True,
        text=True,
        cwd=work,
        check=True,
    ).stdout.strip()
    example = Path(package) / "examples" / "definitions" / "payments.yml"
    assert example.is_file()
    with Sandbox(scale=0.01) as sandbox:
        settings = {k: v for k, v in sandbox.config("payments").items() if k != "api"}
        config.write_text(json.dumps({**settings, "definition": str(example)}))
        proc = discover()
    assert proc.returncode == 0, proc.stderr
    streams = {s["tap_stream_id"]: s for s in json.loads(proc.stdout)["streams"]}
    assert set(streams) == {"order_payments", "products"}
    assert "amount" in streams["order_payments"]["schema"]["properties"]


def test_build_and_twine_check_are_clean_and_the_wheel_holds_the_tap_alone(tmp_path: Path) -> None:
    """`python -m build` (sdist, then the wheel from it) and `twine check --strict`, as a
    release does; the wheel carries the package, its schemas and definitions, and nothing
    of the repository's tests, benchmarks or pipeline."""
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    files = sorted(dist.iterdir())
    assert [f.name for f in files] == [
        f"tap_commerce-{metadata_version()}-py3-none-any.whl",
        f"tap_commerce-{metadata_version()}.tar.gz",
    ]
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == len(files)
    names = zipfile.ZipFile(files[0]).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"tap_commerce", f"tap_commerce-{metadata_version()}.dist-info"}
    assert not any(
        part in {"tests", "benchmarks", "pipeline"} for n in names for part in n.split("/")[:2]
    )
    assert not any("sandbox" in n for n in names)  # its own distribution
    entry_points = zipfile.ZipFile(files[0]).read(
        f"tap_commerce-{metadata_version()}.dist-info/entry_points.txt"
    )
    assert b"tap-commerce-sandbox" not in entry_points
    assert "tap_commerce/definitions/payments.yml" in names
    assert "tap_commerce/schemas/payments/order_payments.json" in names


def metadata_version() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_the_version_is_one_literal_that_the_tap_and_the_changelog_agree_on() -> None:
    version = metadata_version()
    assert json.loads(docs.about("json"))["version"] == version
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.MULTILINE)
    assert released[0] == version  # the newest release entry is this version
    assert "## [Unreleased]" in changelog
    sources = [p for p in (REPO / "tap_commerce").rglob("*.py") if version in p.read_text()]
    assert not sources, f"the version is written again in {sources}"


def test_the_sandbox_is_a_distribution_of_its_own_with_its_dependencies(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(REPO / "sandbox"),
        ],
        check=True,
    )
    wheel = next(tmp_path.glob("tap_commerce_sandbox-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert {n.split("/", 1)[0] for n in names if not n.startswith("tap_commerce_sandbox-")} == {
        "tap_commerce_sandbox"
    }
    assert "Requires-Dist: simplejson" in metadata
    assert "tap-commerce-sandbox = tap_commerce_sandbox.cli:main" in entry_points
