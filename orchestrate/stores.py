"""The stores file: every store the orchestrator syncs, one entry per store and API.

```yaml
loader: target-postgres          # optional (default target-postgres)
schedule: "0 * * * *"            # optional, cron (default hourly, on the hour)
concurrency: {default: 4, shop: 8}   # optional: syncs of one API at once
retries: {max: 3, delay_seconds: 60} # optional: a failed sync starts again from its state
stores:
  - name: north                  # the store: its `store` column and its state id suffix
    api: shop                    # a built-in API, or the label of a `definition`
    env:                         # setting -> the environment variable that holds it
      api_key: SHOP_NORTH_API_KEY
      api_secret: SHOP_NORTH_API_SECRET
    settings:                    # optional overrides; never a secret
      start_date: "2025-01-01T00:00:00Z"
  - name: north
    api: myshop                  # an API of the store's own definition file
    definition: definitions/myshop.yml
    extractor: tap-commerce-myshop   # optional: the Meltano plugin (default tap-commerce-<api>)
    env: {api_key: MYSHOP_NORTH_KEY}
```

`load` reads and checks it: every mistake is one line naming the store and the key (a
duplicate store, an unknown API, a secret written in the file, a bad variable name). The
variables are read when a store's sync starts (`Store.environment`), so a deployment's
webserver needs none of the stores' secrets; ``python -m orchestrate.stores FILE`` checks
them too, one line per missing variable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tap_commerce.settings import API_IDS, OWN_SETTINGS, SECRET_SETTINGS

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

DEFAULT_LOADER = "target-postgres"
DEFAULT_SCHEDULE = "0 * * * *"
DEFAULT_CONCURRENCY = 4
DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY = 60.0
#: a store's name: its `store` value, its state id suffix and part of its Dagster names
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
#: an API's label: a Dagster group and job name
LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PLUGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
TOP_KEYS = ("loader", "schedule", "concurrency", "retries", "stores")
STORE_KEYS = ("name", "api", "definition", "extractor", "env", "settings")
#: settings the orchestrator sets itself for every store
RESERVED = {
    "store": "the store's name is its `name`",
    "api": "the API is the store's `api`",
    "definition": "the definition is the store's `definition`",
    "emit_activate_version_messages": (
        "it is false for every store: a loader's ACTIVATE_VERSION would retire the other "
        "stores' rows"
    ),
}


class StoresError(ValueError):
    """A stores file or a store is wrong; the message is one line naming the key."""


@dataclasses.dataclass(frozen=True)
class Store:
    """One store of one API: one sync, with its own credentials and its own state."""

    name: str
    api: str
    extractor: str
    #: setting -> the environment variable that holds its value
    env: Mapping[str, str]
    #: setting -> value (never a secret)
    settings: Mapping[str, Any]
    definition: Path | None = None
    #: where the entry is, for messages: "stores file F: store 'north' (shop)"
    where: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """What no two entries share: the store and its API."""
        return self.api, self.name

    @property
    def prefix(self) -> str:
        """Meltano's prefix for the extractor's settings in the environment."""
        return env_prefix(self.extractor)

    def environment(
        self, environ: Mapping[str, str], *, foreign: Sequence[str] = ()
    ) -> dict[str, str]:
        """The environment of this store's `meltano run`: ``environ`` without
        ``foreign`` (the other stores' variables), plus the store's settings under the
        extractor's names. A variable that is unset or empty raises one line naming it.
        """
        prefix = self.prefix
        env = {k: v for k, v in environ.items() if k not in foreign}
        for setting, variable in self.env.items():
            value = environ.get(variable)
            if not value:
                msg = f"{self.where}: env.{setting}: environment variable {variable} is not set"
                raise StoresError(msg)
            env[f"{prefix}_{setting.upper()}"] = value
        for setting, value in self.settings.items():
            env[f"{prefix}_{setting.upper()}"] = _env_value(value)
        if self.definition is not None:
            env[f"{prefix}_DEFINITION"] = str(self.definition)
            env[f"{prefix}_API"] = ""  # the definition says which API it is
        else:
            env[f"{prefix}_API"] = self.api
        env[f"{prefix}_STORE"] = self.name
        env[f"{prefix}_EMIT_ACTIVATE_VERSION_MESSAGES"] = "false"
        return env

    def missing(self, environ: Mapping[str, str]) -> list[str]:
        """One line per variable of the store that is unset or empty."""
        return [
            f"{self.where}: env.{setting}: environment variable {variable} is not set"
            for setting, variable in self.env.items()
            if not environ.get(variable)
        ]


@dataclasses.dataclass(frozen=True)
class Stores:
    """A checked stores file."""

    path: Path
    stores: tuple[Store, ...]
    loader: str = DEFAULT_LOADER
    schedule: str = DEFAULT_SCHEDULE
    #: API -> syncs at once; "default" for the others
    concurrency: Mapping[str, int] = dataclasses.field(default_factory=dict)
    retries: int = DEFAULT_RETRIES
    retry_delay: float = DEFAULT_RETRY_DELAY

    @property
    def apis(self) -> tuple[str, ...]:
        """The APIs, in the file's order."""
        return tuple(dict.fromkeys(store.api for store in self.stores))

    def of(self, api: str) -> tuple[Store, ...]:
        """The stores of one API."""
        return tuple(store for store in self.stores if store.api == api)

    def limit(self, api: str) -> int:
        """How many syncs of ``api`` run at once."""
        return self.concurrency.get(api, self.concurrency.get("default", DEFAULT_CONCURRENCY))

    @property
    def variables(self) -> tuple[str, ...]:
        """Every environment variable the file names."""
        return tuple(dict.fromkeys(v for store in self.stores for v in store.env.values()))

    def missing(self, environ: Mapping[str, str]) -> list[str]:
        """One line per unset variable, store by store."""
        return [line for store in self.stores for line in store.missing(environ)]


def env_prefix(plugin: str) -> str:
    """Meltano's environment prefix of a plugin's settings: ``tap-commerce-shop--eu`` ->
    ``TAP_COMMERCE_SHOP__EU``.
    """
    return re.sub(r"[^A-Za-z0-9]", "_", plugin).upper()


def _env_value(value: Any) -> str:
    """A setting's value as Meltano reads it from the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def load(path: str | os.PathLike[str]) -> Stores:
    """Read and check the stores file at ``path``; the first mistake raises one line."""
    file = Path(path)
    errors = problems(file)
    if errors:
        raise StoresError(errors[0])
    return _parse(file, [])


def problems(path: Path) -> list[str]:
    """Every mistake of the file, one line each (empty: the file is good)."""
    errors: list[str] = []
    try:
        _parse(path, errors)
    except StoresError as exc:
        errors.append(str(exc))
    return errors


def _parse(path: Path, errors: list[str]) -> Stores:
    """The file's stores; mistakes of entries go to ``errors``, a mistake of the file
    itself is raised.
    """
    where = f"stores file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{where}: cannot be read ({exc.strerror or exc})"
        raise StoresError(msg) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        msg = f"{where}: not valid YAML{at}"
        raise StoresError(msg) from None
    if not isinstance(data, dict):
        msg = f"{where}: must be a mapping with a list under 'stores'"
        raise StoresError(msg)
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        msg = f"{where}: unknown key '{unknown[0]}' (allowed: {', '.join(TOP_KEYS)})"
        raise StoresError(msg)
    entries = data.get("stores")
    if not isinstance(entries, list) or not entries:
        msg = f"{where}: 'stores' must be a non-empty list of stores"
        raise StoresError(msg)
    loader = _text(data, "loader", DEFAULT_LOADER, where)
    schedule = _text(data, "schedule", DEFAULT_SCHEDULE, where)
    if len(schedule.split()) != 5:  # noqa: PLR2004 - the five fields of a cron expression
        msg = f"{where}: 'schedule' is {schedule!r}: must be a cron expression of five fields"
        raise StoresError(msg)
    concurrency = _concurrency(data.get("concurrency"), where)
    retries, delay = _retries(data.get("retries"), where)
    stores: list[Store] = []
    seen: dict[tuple[str, str], int] = {}
    states: dict[tuple[str, str], str] = {}
    names: dict[str, str] = {}
    for number, entry in enumerate(entries, start=1):
        try:
            store = _store(entry, number, path)
        except StoresError as exc:
            errors.append(str(exc))
            continue
        first = seen.setdefault(store.key, number)
        if first != number:
            errors.append(f"{store.where}: name: a duplicate of store {first} in the file")
            continue
        # Meltano's state id is the extractor's and the store's: two entries must not share one
        state = (store.extractor, store.name)
        if states.setdefault(state, store.api) != store.api:
            errors.append(
                f"{store.where}: extractor: {store.extractor} with store '{store.name}' is also "
                f"the {states[state]} entry's: the two would share one Meltano state"
            )
            continue
        # Dagster's names join API and store with underscores: two entries must not meet
        name = dagster_name(store)
        if names.setdefault(name, store.name) != store.name:
            errors.append(
                f"{store.where}: name: its Dagster name {name} is also that of store "
                f"'{names[name]}' ({store.api})"
            )
            continue
        stores.append(store)
    apis = {store.api for store in stores}
    for api in sorted(set(concurrency) - apis - {"default"}):
        if not errors:
            errors.append(f"{where}: concurrency.{api}: no store of the file has api '{api}'")
    return Stores(path, tuple(stores), loader, schedule, concurrency, retries, delay)


def dagster_name(store: Store) -> str:
    """The store's name in Dagster (op and run names allow letters, digits and ``_``)."""
    return f"{store.api}__{store.name.replace('-', '_')}"


def _store(entry: Any, number: int, path: Path) -> Store:
    """One entry of the file, checked."""
    where = f"stores file {path}: store {number}"
    if not isinstance(entry, dict):
        msg = f"{where}: must be a mapping with 'name', 'api' and 'env'"
        raise StoresError(msg)
    name = entry.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        msg = (
            f"{where}: name: {name!r} must be letters, digits, '-' or '_' (at most 63, "
            "starting with a letter or digit)"
        )
        raise StoresError(msg)
    api = entry.get("api")
    label = api if isinstance(api, str) and api.isprintable() else "?"
    where = f"stores file {path}: store '{name}' ({label})"
    unknown = sorted(set(entry) - set(STORE_KEYS))
    if unknown:
        msg = f"{where}: unknown key '{unknown[0]}' (allowed: {', '.join(STORE_KEYS)})"
        raise StoresError(msg)
    definition = entry.get("definition")
    source: Path | None = None
    if definition is not None:
        if not isinstance(definition, str) or not definition.strip():
            msg = f"{where}: definition: must be the path of a definition file"
            raise StoresError(msg)
        source = (path.parent / definition).resolve()
        if not source.is_file():
            msg = f"{where}: definition: no file {source}"
            raise StoresError(msg)
    if not isinstance(api, str) or not api:
        msg = f"{where}: api: required (one of {', '.join(API_IDS)}, or a label with 'definition')"
        raise StoresError(msg)
    if source is None and api not in API_IDS:
        msg = (
            f"{where}: api: {api!r} is not a built-in API (one of {', '.join(API_IDS)}); "
            "an API of your own needs 'definition'"
        )
        raise StoresError(msg)
    if not LABEL.fullmatch(api):
        msg = f"{where}: api: {api!r} must be letters, digits or '_', starting with a letter"
        raise StoresError(msg)
    extractor = entry.get("extractor", f"tap-commerce-{api}")
    if not isinstance(extractor, str) or not PLUGIN.fullmatch(extractor):
        msg = f"{where}: extractor: must be the name of a Meltano extractor"
        raise StoresError(msg)
    env = _mapping(entry, "env", where)
    for setting, variable in env.items():
        _setting(setting, f"{where}: env.{setting}", builtin=source is None)
        if not isinstance(variable, str) or not VARIABLE.fullmatch(variable):
            # the value is not shown: it may be the secret itself, pasted
            msg = (
                f"{where}: env.{setting}: not the name of an environment variable (letters, "
                "digits and '_'; the value itself never goes in this file)"
            )
            raise StoresError(msg)
    settings = _mapping(entry, "settings", where)
    for setting, value in settings.items():
        _setting(setting, f"{where}: settings.{setting}", builtin=source is None)
        if setting in SECRET_SETTINGS:
            msg = (
                f"{where}: settings.{setting}: a secret never goes in this file; name the "
                f"environment variable that holds it under env.{setting}"
            )
            raise StoresError(msg)
        if value is None:
            msg = f"{where}: settings.{setting}: has no value"
            raise StoresError(msg)
        if isinstance(value, dt.date):  # YAML reads an unquoted date as one
            settings[setting] = value.isoformat()
        elif isinstance(value, float) and not math.isfinite(value):
            msg = f"{where}: settings.{setting}: must be a finite number"
            raise StoresError(msg)
        if setting in env:
            msg = f"{where}: settings.{setting}: also under env; give it once"
            raise StoresError(msg)
    return Store(name, api, extractor, env, settings, source, where)


def _setting(setting: str, where: str, *, builtin: bool) -> None:
    """A setting a store may give: not one the orchestrator sets, and for a built-in
    API one the tap has.
    """
    if setting in RESERVED:
        msg = f"{where}: not a store's setting: {RESERVED[setting]}"
        raise StoresError(msg)
    if builtin and setting not in OWN_SETTINGS and not setting.startswith(("stream_", "flatten")):
        msg = f"{where}: tap-commerce has no setting '{setting}' (see docs/settings.md)"
        raise StoresError(msg)


def _mapping(entry: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = entry.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        msg = f"{where}: {key}: must be a mapping of setting names"
        raise StoresError(msg)
    return value


def _text(data: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        msg = f"{where}: '{key}' must be a non-empty string"
        raise StoresError(msg)
    return value


def _concurrency(value: Any, where: str) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        msg = f"{where}: 'concurrency' must map an API (or 'default') to a number of syncs"
        raise StoresError(msg)
    for api, limit in value.items():
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            msg = f"{where}: concurrency.{api}: {limit!r} must be a whole number from 1"
            raise StoresError(msg)
    return dict(value)


def _retries(value: Any, where: str) -> tuple[int, float]:
    if value is None:
        return DEFAULT_RETRIES, DEFAULT_RETRY_DELAY
    if not isinstance(value, dict) or set(value) - {"max", "delay_seconds"}:
        msg = f"{where}: 'retries' must be a mapping of 'max' and 'delay_seconds'"
        raise StoresError(msg)
    retries = value.get("max", DEFAULT_RETRIES)
    delay = value.get("delay_seconds", DEFAULT_RETRY_DELAY)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        msg = f"{where}: retries.max: {retries!r} must be a whole number from 0"
        raise StoresError(msg)
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or not math.isfinite(delay)
        or delay < 0
    ):
        msg = f"{where}: retries.delay_seconds: {delay!r} must be a number of seconds from 0"
        raise StoresError(msg)
    return retries, float(delay)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m orchestrate.stores FILE``: one line per mistake, the environment's
    missing variables included; exit 1 if there is any.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write("usage: python -m orchestrate.stores STORES_FILE\n")
        return 2
    path = Path(args[0])
    errors = problems(path)
    if not errors:
        errors = load(path).missing(os.environ)
    for line in errors:
        sys.stderr.write(line + "\n")
    if errors:
        return 1
    stores = load(path)
    sys.stdout.write(
        f"{path}: {len(stores.stores)} stores of {len(stores.apis)} APIs "
        f"({', '.join(stores.apis)}); every variable is set\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
