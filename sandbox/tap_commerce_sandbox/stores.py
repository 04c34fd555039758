"""Many stores: one :class:`~.sandbox.Sandbox` per store name, each on a port of its own.

Each store has its own data (its seed is derived from its name), its own credentials
(the defaults with ``-<name>`` appended, so one store's credentials are refused by
another's server) and its own rate-limit state::

    from tap_commerce_sandbox import Stores

    with Stores(["north", "south"], scale=0.1) as stores:
        stores["north"].url                  # http://127.0.0.1:PORT
        stores.config("north", "shop")       # that store's shop settings
        stores.env("stores.yml")             # {"SHOP_NORTH_API_KEY": "...", ...}

A *stores file* (YAML) lists the stores a run reads; the sandbox reads only the ``name``,
``api`` and ``env`` of each entry (``env``: setting -> name of the environment variable
that carries it) and skips entries without ``api`` (stores of a user definition file)::

    stores:
      - name: north
        api: shop
        env:
          base_url: SHOP_NORTH_BASE_URL
          api_key: SHOP_NORTH_API_KEY
          api_secret: SHOP_NORTH_API_SECRET
"""

from __future__ import annotations

import json
import os
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .data import APIS
from .sandbox import DEFAULT_CREDENTIALS, Sandbox

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from datetime import date, datetime

    from typing_extensions import Self

#: What a store name may look like (it ends up in credentials, variable names, file names).
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: What an environment variable name may look like.
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Values written to a dotenv file without quotes.
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_./:@%+,=-]*$")

PathLike = str | os.PathLike[str]


def store_seed(name: str) -> int:
    """The default seed of store ``name``: its CRC-32, the same in every process."""
    return zlib.crc32(name.encode())


def store_credentials(name: str) -> dict[str, dict[str, str]]:
    """:data:`~.sandbox.DEFAULT_CREDENTIALS` with ``-<name>`` appended to every value."""
    return {
        api: {key: f"{value}-{name}" for key, value in creds.items()}
        for api, creds in DEFAULT_CREDENTIALS.items()
    }


def _check_names(names: Iterable[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        msg = f"names: give an iterable of store names, not the string {names!r}"
        raise TypeError(msg)
    seen: list[str] = []
    for name in names:
        if not isinstance(name, str) or not NAME.match(name):
            msg = f"bad store name {name!r}: use letters, digits, '_' and '-', not first '_'/'-'"
            raise ValueError(msg)
        if name in seen:
            msg = f"store name {name!r} is given twice"
            raise ValueError(msg)
        seen.append(name)
    return tuple(seen)


def _sizes_by_store(
    names: tuple[str, ...], sizes: Mapping[str, Any] | None
) -> dict[str, dict[str, int] | None]:
    """``sizes`` per store: counts (``{"api.stream": n}``) apply to every store; mappings
    (``{"store": {"api.stream": n}}``) to the store named (store names have no dot).
    """
    if not sizes:
        return dict.fromkeys(names)
    per_store = [isinstance(value, Mapping) for value in sizes.values()]
    if not any(per_store):
        return {name: dict(sizes) for name in names}
    if not all(per_store):
        msg = "sizes: give either {'api.stream': n} for every store or {'store': {'api.stream': n}}"
        raise ValueError(msg)
    unknown = sorted(set(sizes) - set(names))
    if unknown:
        msg = f"sizes: unknown store {unknown[0]!r}; one of {', '.join(names)}"
        raise ValueError(msg)
    return {name: dict(sizes[name]) if name in sizes else None for name in names}


class Stores(Mapping[str, Sandbox]):
    """One :class:`~.sandbox.Sandbox` per store name, each listening on a free port of
    ``host``; a read-only mapping of store name to its sandbox.

    Args:
        names: the store names (unique; letters, digits, ``_`` and ``-``).
        scale, anchor, rate_limits, time_scale, latency, host: passed to every store's
            sandbox (see :class:`~.sandbox.Sandbox`). Rate limits are per store: each
            sandbox has limiters of its own, so one store's traffic never slows another.
        sizes: exact record counts, either ``{"api.stream": n}`` for every store or
            ``{"store name": {"api.stream": n}}`` for the stores named (the others get
            ``scale``). The values decide which: counts or mappings, never both.
        seeds: seed overrides by store name; by default a store's seed is the CRC-32 of its
            name (:func:`store_seed`), so its data is the same in every process.

    Different stores have different data but the same id ranges: ids are made from the
    record index with small random gaps (shop products from 1000, payments order payments
    from 100000, ...), so two stores share about a third of their ids, different records behind them —
    as real stores of one API do, and as a tap loading many stores into one table must
    handle. Credentials are the defaults with ``-<name>`` appended (shop's ``api_key`` of
    store ``north`` is ``sandbox-shop-key-north``).

    Starting is cheap (no data is generated until it is read), about a millisecond a store.
    """

    def __init__(
        self,
        names: Iterable[str],
        *,
        scale: float = 1.0,
        sizes: Mapping[str, Any] | None = None,
        anchor: date | datetime | str | None = None,
        rate_limits: bool | Mapping[str, Mapping[str, Any]] = False,
        time_scale: float = 1.0,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        seeds: Mapping[str, int] | None = None,
    ) -> None:
        """Stores that are not listening yet (see `start`); the arguments are above."""
        self._names = _check_names(names)
        seeds = dict(seeds or {})
        unknown = sorted(set(seeds) - set(self._names))
        if unknown:
            msg = f"seeds: unknown store {unknown[0]!r}; one of {', '.join(self._names)}"
            raise ValueError(msg)
        store_sizes = _sizes_by_store(self._names, sizes)
        self._sandboxes = {
            name: Sandbox(
                seed=seeds.get(name, store_seed(name)),
                scale=scale,
                sizes=store_sizes[name],
                anchor=anchor,
                host=host,
                port=0,
                credentials=store_credentials(name),
                rate_limits=rate_limits,
                time_scale=time_scale,
                latency=latency,
            )
            for name in self._names
        }

    @classmethod
    def from_file(cls, path: PathLike, **options: Any) -> Self:
        """The stores of a stores file: one per distinct name of its entries with an
        ``api`` (entries without are skipped, with a note on stderr); ``options`` as for
        the constructor.
        """
        entries = served_entries(read_stores_file(path))
        if not entries:
            msg = f"{path}: no store names a built-in api ({', '.join(APIS)})"
            raise ValueError(msg)
        return cls(dict.fromkeys(entry.name for entry in entries), **options)

    # Lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Start every store's sandbox; returns ``self``. If one fails, none keeps running."""
        try:
            for sandbox in self._sandboxes.values():
                sandbox.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every store's sandbox (idempotent); all at once, since each takes up to one
        poll interval of its server loop.
        """
        if not self._sandboxes:
            return
        with ThreadPoolExecutor(max_workers=min(len(self._sandboxes), 64)) as pool:
            for stopped in [pool.submit(sandbox.stop) for sandbox in self._sandboxes.values()]:
                stopped.result()

    def __enter__(self) -> Self:
        """`start`."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """`stop`."""
        self.stop()

    # The mapping -------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The store names, in the order given."""
        return self._names

    @override
    def __getitem__(self, name: str) -> Sandbox:
        """The sandbox of store ``name``."""
        try:
            return self._sandboxes[name]
        except KeyError:
            msg = f"no store {name!r}; one of {', '.join(self._names)}"
            raise KeyError(msg) from None

    @override
    def __iter__(self) -> Iterator[str]:
        """The store names."""
        return iter(self._names)

    @override
    def __len__(self) -> int:
        """How many stores."""
        return len(self._names)

    def urls(self) -> dict[str, str]:
        """``{store name: http://127.0.0.1:PORT}`` (the stores must be running)."""
        return {name: sandbox.url for name, sandbox in self._sandboxes.items()}

    # Settings ----------------------------------------------------------------------------

    def config(self, name: str, api: str) -> dict[str, Any]:
        """Store ``name``'s tap settings for the built-in ``api``: ``self[name].config(api)``."""
        return self[name].config(api)

    def env(self, entries: PathLike | Mapping[str, Any] | Iterable[StoreEntry]) -> dict[str, str]:
        """The environment variables a stores file's ``env`` sections name, with their values
        for these stores: for every entry with an ``api``, ``{VARIABLE: value}`` for each
        ``setting: VARIABLE``, the value being that setting of ``config(name, api)``.

        ``entries``: a stores file's path, its parsed content or its entries. An entry
        without ``api`` is skipped (with a note on stderr); a setting the API's config does
        not have, a store not served here, or a variable given two values raise ValueError.
        """
        if isinstance(entries, (str, os.PathLike)):
            parsed = read_stores_file(entries)
        elif isinstance(entries, Mapping):
            parsed = parse_stores(entries)
        else:
            parsed = list(entries)
        variables: dict[str, str] = {}
        for entry in parsed:
            if entry.api is None:
                _note_skipped(entry)
                continue
            if entry.name not in self._sandboxes:
                msg = f"store {entry.name!r} is not one of these stores ({', '.join(self._names)})"
                raise ValueError(msg)
            config = self.config(entry.name, entry.api)
            for setting, variable in entry.env.items():
                if setting not in config:
                    msg = (
                        f"store {entry.name!r} ({entry.api}): no setting {setting!r} to put in "
                        f"{variable}; {entry.api} has {', '.join(k for k in config if k != 'api')}"
                    )
                    raise ValueError(msg)
                value = str(config[setting])
                if variables.get(variable, value) != value:
                    msg = f"variable {variable} is given two values (store {entry.name!r})"
                    raise ValueError(msg)
                variables[variable] = value
        return variables


# Stores files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreEntry:
    """What the sandbox reads of one entry of a stores file."""

    name: str
    api: str | None  # None: a store of a user definition file, not served here
    env: dict[str, str] = field(default_factory=dict)  # setting -> variable name


def read_stores_file(path: PathLike) -> list[StoreEntry]:
    """The entries of the stores file at ``path`` (YAML); a file that cannot be read raises
    OSError, one that is not a stores file ValueError, each with a one-line message.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
            mark = exc.problem_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = exc.problem if isinstance(exc, yaml.MarkedYAMLError) and exc.problem else exc
        msg = f"{path}: not valid YAML: {' '.join(str(problem).split())}{where}"
        raise ValueError(msg) from None
    try:
        return parse_stores(document)
    except ValueError as exc:
        msg = f"{path}: {exc}"
        raise ValueError(msg) from None


def parse_stores(document: Any) -> list[StoreEntry]:
    """The entries of a parsed stores file (``{"stores": [...]}``), checked; every key but
    ``name``, ``api`` and ``env`` is ignored.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("stores"), list):
        msg = "expected a mapping with a list 'stores'"
        raise ValueError(msg)  # noqa: TRY004 - a wrong file, reported as ValueError like the rest
    entries = []
    for number, item in enumerate(document["stores"], 1):
        if not isinstance(item, Mapping):
            msg = f"store {number}: expected a mapping with name, api and env"
            raise ValueError(msg)  # noqa: TRY004 - as above
        name = item.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            msg = f"store {number}: bad or missing name {name!r}"
            raise ValueError(msg)
        api = item.get("api")
        if api is not None and api not in APIS:
            msg = f"store {name!r}: unknown api {api!r}; one of {', '.join(APIS)}"
            raise ValueError(msg)
        env = item.get("env") or {}
        if not isinstance(env, Mapping) or not all(
            isinstance(setting, str) and isinstance(variable, str) and VARIABLE.match(variable)
            for setting, variable in env.items()
        ):
            msg = f"store {name!r}: env must map setting names to environment variable names"
            raise ValueError(msg)
        entries.append(StoreEntry(name, api, dict(env)))
    return entries


def served_entries(entries: Iterable[StoreEntry]) -> list[StoreEntry]:
    """The entries with an ``api``; a note on stderr for each one skipped."""
    served = []
    for entry in entries:
        if entry.api is None:
            _note_skipped(entry)
        else:
            served.append(entry)
    return served


def _note_skipped(entry: StoreEntry) -> None:
    sys.stderr.write(
        f"tap-commerce-sandbox: skipping store {entry.name!r}: no api "
        "(a store of a user definition file)\n"
    )


def write_dotenv(variables: Mapping[str, str], path: PathLike) -> Path:
    """Write ``variables`` as ``NAME=value`` lines to ``path`` (created or overwritten, at
    once: a reader never sees half a file); values with other characters than letters,
    digits and ``_./:@%+,=-`` are double-quoted.
    """
    target = Path(path)
    lines = [
        f"{name}={value if _PLAIN_VALUE.match(value) else json.dumps(value)}"
        for name, value in variables.items()
    ]
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    partial.replace(target)
    return target
