"""Dagster definitions for many stores: one asset per store and API, from the stores file.

Each asset is one `meltano run --state-id-suffix=<store> <extractor> <loader>` in the Meltano
project, run through Dagster's `PipesSubprocessClient`:

- the store's settings come from its environment variables (`orchestrate.stores`), set
  under the extractor's names for that subprocess alone; the other stores' variables are
  blanked in it;
- its state id is ``<environment>:<extractor>-to-<loader>:<store>``, in Meltano's system
  database (PostgreSQL), so any worker can run any store;
- its pool is ``tap-commerce/<api>/<store>``: with the instance's default pool limit of 1
  (``orchestrate/dagster.yaml``) two syncs of the same store and API never overlap, even
  from two runs; Meltano also refuses a second run of a state id that is running;
- a failed sync is retried (`RetryPolicy`, the stores file's ``retries``): `meltano run`
  starts again from the state the failed one saved.

One job per API runs all its stores, at most the stores file's ``concurrency`` of them at
once (the multiprocess executor's ``max_concurrent``), on a schedule (hourly by default).
A store that fails fails its own step; the others load.

``dagster dev -m orchestrate.definitions`` reads the stores file named by
``TAP_COMMERCE_STORES``; the Meltano project is ``MELTANO_PROJECT_ROOT`` (default: the
working directory) and Meltano is ``MELTANO_EXECUTABLE`` (default ``meltano`` on PATH).
"""

import os
import sys
import time
from pathlib import Path

import dagster as dg

# Dagster 1.13 raises it from PipesSubprocessClient.run and exports it only from here
from dagster._core.errors import DagsterPipesExecutionError

from orchestrate.stores import Store, Stores, StoresError, dagster_name, load
from orchestrate.system_dir import own_system_dir

STORES_VARIABLE = "TAP_COMMERCE_STORES"
#: the run tag every run of an API's job carries (dagster.yaml limits runs per value)
API_TAG = "tap-commerce/api"


class MeltanoProject(dg.ConfigurableResource):  # type: ignore[type-arg]  # its parameter is Dagster-internal
    """The Meltano project the syncs run in."""

    project_dir: str
    executable: str = "meltano"
    #: Meltano environment (``--environment``); empty: the project's default
    environment: str = ""

    def command(self, store: Store, loader: str) -> list[str]:
        """``meltano run`` for one store."""
        environment = [f"--environment={self.environment}"] if self.environment else []
        return [
            self.executable,
            *environment,
            "run",
            f"--state-id-suffix={store.name}",
            store.extractor,
            loader,
        ]

    def system_dir(self, store: Store) -> Path:
        """The store's own Meltano system directory (``MELTANO_SYS_DIR_ROOT``):
        ``.meltano/stores/<extractor>/<store>``, linking to the project's installed plugins
        (`orchestrate.system_dir`); its pool keeps it to one sync at a time.
        """
        shared = Path(os.environ.get("MELTANO_SYS_DIR_ROOT") or Path(self.project_dir) / ".meltano")
        return own_system_dir(shared / "stores" / store.extractor / store.name, shared)

    def state_id(self, store: Store, loader: str) -> str:
        """The store's state id in Meltano's system database."""
        environment = self.environment or os.environ.get("MELTANO_ENVIRONMENT") or "dev"
        return f"{environment}:{store.extractor}-to-{loader}:{store.name}"


def store_asset(store: Store, stores: Stores) -> dg.AssetsDefinition:
    """The asset of one store of one API: its tables in the warehouse."""
    foreign = tuple(v for v in stores.variables if v not in store.env.values())

    @dg.asset(
        name=store.name.replace("-", "_"),
        key_prefix=[store.api],
        group_name=store.api,
        kinds={"meltano", "postgres"},
        pool=f"tap-commerce/{store.api}/{store.name}",
        retry_policy=dg.RetryPolicy(
            max_retries=stores.retries, delay=stores.retry_delay, backoff=dg.Backoff.EXPONENTIAL
        ),
        description=f"Store '{store.name}' of the {store.api} API: `meltano run "
        f"--state-id-suffix={store.name} {store.extractor} {stores.loader}`.",
        metadata={"store": store.name, "api": store.api, "extractor": store.extractor},
        tags={API_TAG: store.api},
    )
    def sync(
        context: dg.AssetExecutionContext,
        meltano: MeltanoProject,
        pipes_subprocess_client: dg.PipesSubprocessClient,
    ) -> dg.MaterializeResult[None]:
        try:
            env = store.environment(os.environ, foreign=())
        except StoresError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        if not os.environ.get("MELTANO_DATABASE_URI"):
            msg = (
                f"{store.where}: set MELTANO_DATABASE_URI: the stores' state must be in one "
                "database every sync shares (PostgreSQL), not a file of one directory"
            )
            raise dg.Failure(description=msg, allow_retries=False)
        # the subprocess gets os.environ too (PipesSubprocessClient): blank the other
        # stores' variables in it
        env.update(dict.fromkeys(foreign, ""))
        env["MELTANO_SYS_DIR_ROOT"] = str(meltano.system_dir(store))
        command = meltano.command(store, stores.loader)
        wrapped = [
            sys.executable, "-m", "orchestrate.meltano_run",
            store.extractor, "--", *command,
        ]  # fmt: skip
        started = time.monotonic()
        try:
            invocation = pipes_subprocess_client.run(
                # the op context: Dagster 1.13's Pipes asks an asset context for its
                # deprecated run_id
                context=context.op_execution_context,
                command=wrapped,
                env=env,
                cwd=meltano.project_dir,
                # Meltano gets none of the other stores' variables: not even blank, since
                # it reads the whole environment for each setting of each plugin
                extras={"unset": sorted(foreign)},
            )
        except DagsterPipesExecutionError as exc:
            msg = f"{store.where}: `python -m orchestrate.meltano_run` failed ({exc})"
            raise dg.Failure(description=msg) from None
        outcome = next(iter(invocation.get_custom_messages()), None) or {}
        shown = f"`meltano {' '.join(command[1:])}`"
        if outcome.get("exit_code") != 0:
            error = outcome.get("error") or "no report from orchestrate.meltano_run"
            msg = f"store '{store.name}' ({store.api}): {shown} failed: {error}"
            raise dg.Failure(description=msg, metadata={"command": shown})
        records: dict[str, int] = outcome.get("records") or {}
        reruns: list[str] = outcome.get("reruns") or []
        for why in reruns:
            context.log.warning(
                "store '%s' (%s): ran again at once: %s", store.name, store.api, why
            )
        return dg.MaterializeResult(
            metadata={
                "state_id": meltano.state_id(store, stores.loader),
                "records": sum(records.values()),
                "records_by_stream": dg.MetadataValue.json(records),
                "requests": outcome.get("requests"),
                "responses_429": outcome.get("responses_429"),
                # runs again after the loader lost a race to create a table
                "reruns": len(reruns),
                "cpu_seconds": outcome.get("cpu_seconds"),
                "peak_rss_mb": outcome.get("peak_rss_mb"),
                "seconds": round(time.monotonic() - started, 3),
            }
        )

    return sync


def build(stores: Stores, meltano: MeltanoProject) -> dg.Definitions:
    """The Definitions of a checked stores file."""
    assets = [store_asset(store, stores) for store in stores.stores]
    jobs = [
        dg.define_asset_job(
            f"sync_{api}",
            selection=dg.AssetSelection.groups(api),
            description=f"Every store of the {api} API, {stores.limit(api)} at once.",
            executor_def=dg.multiprocess_executor.configured({"max_concurrent": stores.limit(api)}),
            tags={API_TAG: api},
        )
        for api in stores.apis
    ]
    schedules = [
        dg.ScheduleDefinition(
            name=f"sync_{api}_schedule",
            job=job,
            cron_schedule=stores.schedule,
            default_status=dg.DefaultScheduleStatus.RUNNING,
        )
        for api, job in zip(stores.apis, jobs, strict=True)
    ]
    return dg.Definitions(
        assets=assets,
        jobs=jobs,
        schedules=schedules,
        resources={
            "meltano": meltano,
            "pipes_subprocess_client": dg.PipesSubprocessClient(),
        },
    )


def from_environment() -> dg.Definitions:
    """The Definitions of ``TAP_COMMERCE_STORES``'s file, in the Meltano project of
    ``MELTANO_PROJECT_ROOT``; a mistake is one line.
    """
    path = os.environ.get(STORES_VARIABLE)
    if not path:
        msg = f"set {STORES_VARIABLE} to the path of the stores file (see docs/many-stores.md)"
        raise StoresError(msg)
    meltano = MeltanoProject(
        project_dir=os.environ.get("MELTANO_PROJECT_ROOT") or str(Path.cwd()),
        executable=os.environ.get("MELTANO_EXECUTABLE") or "meltano",
        environment=os.environ.get("MELTANO_ENVIRONMENT") or "",
    )
    return build(load(path), meltano)


__all__ = ["MeltanoProject", "build", "dagster_name", "from_environment", "store_asset"]


@dg.definitions
def defs() -> dg.Definitions:
    """What ``dagster dev -m orchestrate.definitions`` loads (see `from_environment`)."""
    return from_environment()
