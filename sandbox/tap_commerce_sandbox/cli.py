"""``tap-commerce-sandbox`` (also ``python -m tap_commerce_sandbox``).

serve          run the sandbox until SIGINT/SIGTERM, printing its URL
write-configs  write <api>.json tap configs (and/or a Meltano .env) for a sandbox at --url
stores         run one sandbox per store of a stores file, each on its own port, and write
               the variables its env sections name to --env-file
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import simplejson

from .data import APIS
from .drift import DEFAULT_EXTRA_FIELDS, DEFAULT_FOREIGN_ORIGIN
from .sandbox import (
    DEFAULT_CREDENTIALS,
    Sandbox,
    meltano_env,
    tap_config,
    write_config_files,
    write_env_file,
)
from .stores import Stores, read_stores_file, served_entries, write_dotenv

if TYPE_CHECKING:
    from collections.abc import Sequence


def _size(text: str) -> tuple[str, int]:
    stream, sep, count = text.partition("=")
    if not sep or not count.isdigit():
        msg = f"expected api.stream=N, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return stream, int(count)


def _position(text: str) -> int:
    if not text.isdigit():
        msg = f"expected a non-negative integer, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = simplejson.loads(text, use_decimal=True)
    except ValueError as exc:
        msg = f"not JSON: {exc}"
        raise argparse.ArgumentTypeError(msg) from None
    if not isinstance(value, dict) or not value:
        msg = f"expected a non-empty JSON object, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tap-commerce-sandbox",
        description="A local emulator of the five commerce APIs tap-commerce reads.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the sandbox server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--scale", type=float, default=1.0)
    serve.add_argument(
        "--size",
        type=_size,
        action="append",
        default=[],
        metavar="API.STREAM=N",
        help="exact record count of one stream (repeatable)",
    )
    serve.add_argument("--anchor", help="the data's 'present' as YYYY-MM-DD (default: today UTC)")
    serve.add_argument("--rate-limits", action="store_true", help="enforce each API's rate limit")
    serve.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply rate-limit windows, cool-downs and Retry-After by this",
    )
    serve.add_argument("--latency-ms", type=float, default=0.0, help="added to every API request")
    serve.add_argument(
        "--token-ttl", type=float, default=3600, help="orders token lifetime, seconds"
    )
    serve.add_argument("--shop-envelope", choices=("object", "bare"), default="object")
    serve.add_argument("--digital-envelope", choices=("array", "object"), default="array")
    serve.add_argument(
        "--no-payments-total", action="store_true", help="omit total from payments pages"
    )
    drift = serve.add_argument_group("contract-drift drills (default: off)")
    drift.add_argument(
        "--extra-fields",
        type=_json_object,
        nargs="?",
        const=DEFAULT_EXTRA_FIELDS,
        metavar="JSON",
        help="append these fields (a JSON object; without a value: x_extra_field, "
        "x_extra_text, x_extra_number) to every record the APIs serve",
    )
    drift.add_argument(
        "--extra-fields-api",
        action="append",
        metavar="API",
        help="only in this API's streams (repeatable)",
    )
    drift.add_argument(
        "--extra-fields-stream",
        action="append",
        metavar="[API.]STREAM",
        help="only in this stream (repeatable)",
    )
    drift.add_argument(
        "--extra-fields-start",
        type=_position,
        metavar="N",
        help="only on records from this 0-based position of the stream's unfiltered "
        "creation-order list on (child rows: within their product's rows); default 0",
    )
    drift.add_argument(
        "--extra-fields-change",
        type=_json_object,
        metavar="JSON",
        help="from --extra-fields-change-at on, these fields (a JSON object naming some of "
        "the extra fields) carry these values instead",
    )
    drift.add_argument(
        "--extra-fields-change-at",
        type=_position,
        metavar="N",
        help="the position from which --extra-fields-change applies",
    )
    drift.add_argument(
        "--foreign-next-url",
        nargs="?",
        const=DEFAULT_FOREIGN_ORIGIN,
        metavar="URL",
        help="storefront nextPageUrl points at this origin instead of the sandbox "
        "({port}: the sandbox's port; without a value: %(const)s)",
    )
    drift.add_argument(
        "--foreign-next-url-path",
        metavar="REGEX",
        help="only on requests whose path matches this regular expression",
    )
    serve.add_argument("--write-configs", metavar="DIR", help="write <api>.json tap configs here")
    serve.add_argument(
        "--write-env",
        metavar="FILE",
        help="merge the configs into a dotenv FILE as Meltano variables (e.g. .env)",
    )
    serve.add_argument(
        "--warm",
        action="store_true",
        help="generate every record before printing the URL (for benchmarks)",
    )

    write = commands.add_parser("write-configs", help="write tap configs for a running sandbox")
    write.add_argument("--url", required=True, help="the sandbox URL, e.g. http://127.0.0.1:8765")
    write.add_argument("directory", nargs="?", help="where to write <api>.json")
    write.add_argument("--env", metavar="FILE", help="also merge them into a dotenv FILE")

    stores = commands.add_parser(
        "stores", help="run one sandbox per store of a stores file, each on its own port"
    )
    stores.add_argument("stores_file", metavar="STORES_FILE", help="the stores file (YAML)")
    stores.add_argument(
        "--env-file",
        metavar="FILE",
        help="write the variables the stores' env sections name to this dotenv FILE "
        "(created or overwritten)",
    )
    stores.add_argument("--rate-limits", action="store_true", help="enforce each API's rate limit")
    stores.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply rate-limit windows, cool-downs and Retry-After by this",
    )
    stores.add_argument("--scale", type=float, default=1.0)
    stores.add_argument("--anchor", help="the data's 'present' as YYYY-MM-DD (default: today UTC)")
    stores.add_argument("--host", default="127.0.0.1")
    return parser


def _serve(args: argparse.Namespace) -> int:
    sandbox = Sandbox(
        seed=args.seed,
        scale=args.scale,
        sizes=dict(args.size),
        anchor=args.anchor,
        host=args.host,
        port=args.port,
        rate_limits=args.rate_limits,
        time_scale=args.time_scale,
        latency=args.latency_ms / 1000,
        token_ttl=args.token_ttl,
        shop_envelope=args.shop_envelope,
        digital_envelope=args.digital_envelope,
        payments_total=not args.no_payments_total,
    )
    if args.extra_fields is not None:
        sandbox.set_extra_fields(
            args.extra_fields,
            apis=args.extra_fields_api,
            streams=args.extra_fields_stream,
            start=args.extra_fields_start or 0,
            changed=args.extra_fields_change,
            change_at=args.extra_fields_change_at,
        )
    elif (
        args.extra_fields_api
        or args.extra_fields_stream
        or args.extra_fields_start is not None
        or args.extra_fields_change is not None
        or args.extra_fields_change_at is not None
    ):
        msg = (
            "--extra-fields-api/--extra-fields-stream/--extra-fields-start/"
            "--extra-fields-change/--extra-fields-change-at need --extra-fields"
        )
        raise ValueError(msg)
    if args.foreign_next_url is not None:
        sandbox.set_foreign_next_url(args.foreign_next_url, path=args.foreign_next_url_path)
    elif args.foreign_next_url_path:
        msg = "--foreign-next-url-path needs --foreign-next-url"
        raise ValueError(msg)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.warm:
        sandbox.warm()
    sandbox.start()
    try:
        if args.write_configs:
            for path in sandbox.write_configs(args.write_configs).values():
                print(f"wrote {path}", file=sys.stderr)
        if args.write_env:
            path = write_env_file(sandbox.meltano_env(), args.write_env)
            print(f"wrote {path}", file=sys.stderr)
        # The URL line comes last: whoever reads it may rely on the configs being there.
        print(sandbox.url, flush=True)
        print("serving; stop with Ctrl-C", file=sys.stderr, flush=True)
        while not stop.wait(0.5):  # a timed wait keeps signals responsive
            pass
    finally:
        sandbox.stop()
    return 0


def _stores(args: argparse.Namespace) -> int:
    """One sandbox per store name of the stores file, until SIGINT/SIGTERM."""
    entries = served_entries(read_stores_file(args.stores_file))
    if not entries:
        msg = f"{args.stores_file}: no store names a built-in api ({', '.join(APIS)})"
        raise ValueError(msg)
    stores = Stores(
        dict.fromkeys(entry.name for entry in entries),
        scale=args.scale,
        anchor=args.anchor,
        rate_limits=args.rate_limits,
        time_scale=args.time_scale,
        host=args.host,
    )
    stores.start()
    try:
        variables = stores.env(entries)  # the base URLs need the ports: after starting
        stop = threading.Event()
        previous = {
            signum: signal.signal(signum, lambda *_: stop.set())
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            width = max(map(len, stores.names))
            for name, url in stores.urls().items():
                print(f"{name:<{width}}  {url}", flush=True)
            if args.env_file:
                path = write_dotenv(variables, args.env_file)
                print(f"wrote {len(variables)} variables to {path}", flush=True)
            print("serving; stop with Ctrl-C", file=sys.stderr, flush=True)
            while not stop.wait(0.5):  # a timed wait keeps signals responsive
                pass
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    finally:
        stores.stop()
    return 0


def offline_configs(url: str) -> dict[str, dict[str, Any]]:
    """The configs a sandbox at ``url`` with default credentials and no rate limits has."""
    return {api: tap_config(api, url, DEFAULT_CREDENTIALS[api]) for api in APIS}


def _write_configs(args: argparse.Namespace) -> int:
    """Ask the running sandbox for its configs (they reflect its credentials and limits);
    if it cannot be reached, fall back to the defaults.
    """
    url = args.url.rstrip("/")
    try:
        with urllib.request.urlopen(f"{url}/_admin/configs", timeout=5) as response:  # noqa: S310 - the user's own --url, read with their rights
            configs = simplejson.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(
            f"could not read {url}/_admin/configs ({exc}); writing default configs", file=sys.stderr
        )
        configs = offline_configs(url)
    if not args.directory and not args.env:
        print(
            "tap-commerce-sandbox write-configs: give a DIRECTORY, --env FILE or both",
            file=sys.stderr,
        )
        return 2
    if args.directory:
        for path in write_config_files(configs, args.directory).values():
            print(path)
    if args.env:
        print(write_env_file(meltano_env(configs), args.env))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``tap-commerce-sandbox``: serve a sandbox, or write the configs of one; the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "stores":
            return _stores(args)
        return _write_configs(args)
    except (ValueError, OSError) as exc:
        print(f"tap-commerce-sandbox: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
