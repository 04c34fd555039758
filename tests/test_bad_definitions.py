"""Every bad definition is one line (contract §1.3): the real command, given a definition
that is not valid, exits non-zero with exactly one ERROR line naming the file (or
"setting 'definition'" when the definition is the setting's object), the key path and the
fault; no traceback, nothing on stdout, and no request sent (the definition and the
``base_url`` setting point at a sandbox whose request log stays empty).

The faults: files that hold no definition, a YAML tag that would run code, unknown and
misspelt keys, wrong types, a child naming no resource, an unset setting, paginators that
lack what they need, dlt's Python-only constructs, the Airbyte keys dlt rejects too, and a
stream name used twice; ``--discover`` refuses them the same way.
"""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from tap_commerce_sandbox import Sandbox

from tests.harness import Output, run_cli

FAKE_PAYMENTS_KEY = "fake-payments-key-0001"
DROP = object()  # an edit that removes the key


@pytest.fixture(scope="module")
def sandbox():
    sb = Sandbox(seed=3, scale=0.02, anchor="2026-01-01").start()
    yield sb
    sb.stop()


@pytest.fixture
def api(sandbox) -> Sandbox:
    """The sandbox, its request log empty."""
    sandbox.reset_stats()
    return sandbox


def payments(api: Sandbox) -> dict:
    """A valid dlt-style payments definition, its base URL the sandbox's."""
    return {
        "client": {
            "base_url": f"{api.url}/payments/",
            "auth": {
                "type": "api_key",
                "name": "api_key",
                "api_key": "{settings.api_key}",
                "location": "query",
            },
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {
                "name": "order_payments",
                "endpoint": {
                    "path": "/v1/order_payments",
                    "data_selector": "data",
                    "paginator": {"type": "offset", "limit": 100},
                    "incremental": {"cursor_path": "updated_at"},
                },
            },
            {
                "name": "products",
                "endpoint": {
                    "path": "/v1/products",
                    "data_selector": "data",
                    "paginator": {"type": "offset", "limit": 100},
                },
            },
        ],
    }


def edited(definition: dict, edits: dict) -> dict:
    """``definition`` with each ``{"a.0.b": value}`` set (`DROP`: removed; an index one
    past a list's end appends).
    """
    result = copy.deepcopy(definition)
    for path, value in edits.items():
        *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
        node = result
        for key in parents:
            node = node[key]
        if value is DROP:
            del node[last]
        elif isinstance(node, list) and last == len(node):
            node.append(value)
        else:
            node[last] = value
    return result


def config(api: Sandbox, definition: object) -> dict:
    return {
        "definition": definition,
        "base_url": f"{api.url}/payments/",
        "api_key": FAKE_PAYMENTS_KEY,
    }


def write(tmp_path, definition: dict, name: str = "payments_dlt.yml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    return path


def error_line(out: Output) -> str:
    """The one ERROR line of a failed run without traceback or output; that line."""
    assert out.returncode != 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    assert out.stdout == ""
    errors = [line for line in out.stderr.splitlines() if re.search(r"\|\s*ERROR\s*\|", line)]
    assert len(errors) == 1, out.stderr[-3000:]
    return errors[0]


def assert_no_request(api: Sandbox) -> None:
    assert api.requests.snapshot() == []


# id: (edits of the valid definition, the key path named, what the line says is wrong)
CASES: dict[str, tuple[dict, str, tuple[str, ...]]] = {
    "an unknown key": (
        {
            "resources.0.endpoint.paginator": DROP,
            "resources.0.endpoint.paginatr": {"type": "offset", "limit": 100},
        },
        "resources[0].endpoint.paginatr",
        ("unknown key", "did you mean 'paginator'?"),
    ),
    "an unknown extension key": (
        {"resources.0.x-foo": True},
        "resources[0].x-foo",
        ("unknown extension key",),
    ),
    "a paginator limit that is no number": (
        {"resources.0.endpoint.paginator.limit": "abc"},
        "resources[0].endpoint.paginator.limit",
        ("must be a whole number", "'abc'"),
    ),
    "a primary key that is a number": (
        {"resources.0.primary_key": 5},
        "resources[0].primary_key",
        ("must be a field name or a list of field names",),
    ),
    "resources that are an object": (
        {"resources": {}},
        "resources",
        ("must be a non-empty list", "got an object"),
    ),
    "a child placeholder naming no resource": (
        {
            "resources.2": {
                "name": "product_images",
                "endpoint": {
                    "path": "/v1/products/{resources.product.id}/images",
                    "data_selector": "data",
                },
            }
        },
        "resources[2].endpoint.path",
        ("names resource 'product'", "does not have", "products"),
    ),
    "an offset paginator without limit": (
        {"resources.0.endpoint.paginator.limit": DROP},
        "resources[0].endpoint.paginator.limit",
        ("is required for an offset paginator",),
    ),
    "a page_number paginator with x-limit but no x-limit_param": (
        {"resources.0.endpoint.paginator": {"type": "page_number", "x-limit": 100}},
        "resources[0].endpoint.paginator",
        ("'x-limit' and 'x-limit_param' together",),
    ),
    "processing_steps": (
        {"resources.0.processing_steps": [{"map": "my_module.fix_amounts"}]},
        "resources[0].processing_steps",
        ("Python-only",),
    ),
    "an incremental convert": (
        {"resources.0.endpoint.incremental.convert": "my_module.to_unix"},
        "resources[0].endpoint.incremental.convert",
        ("Python-only",),
    ),
    "a client session": (
        {"client.session": "requests.Session()"},
        "client.session",
        ("Python-only",),
    ),
    "an Airbyte stop_condition in a paginator": (
        {"resources.0.endpoint.paginator.stop_condition": "{{ not response.next }}"},
        "resources[0].endpoint.paginator.stop_condition",
        ("unknown key",),
    ),
    "an Airbyte incremental_sync on a resource": (
        {
            "resources.0.incremental_sync": {
                "type": "DatetimeBasedCursor",
                "cursor_field": "updated_at",
            }
        },
        "resources[0].incremental_sync",
        ("unknown key",),
    ),
    "an Airbyte error_handler on an endpoint": (
        {"resources.0.endpoint.error_handler": {"type": "DefaultErrorHandler"}},
        "resources[0].endpoint.error_handler",
        ("unknown key",),
    ),
    "auth type basic": (
        {
            "client.auth": {
                "type": "basic",
                "username": "{settings.username}",
                "password": "{settings.password}",
            }
        },
        "client.auth.type",
        ("'basic'", "'http_basic'"),
    ),
    "auth type oauth2": (
        {
            "client.auth": {
                "type": "oauth2",
                "client_id": "{settings.client_id}",
                "client_secret": "{settings.client_secret}",
            }
        },
        "client.auth.type",
        ("'oauth2'", "'oauth2_client_credentials'"),
    ),
    "token_url in oauth2 auth": (
        {
            "client.auth": {
                "type": "oauth2_client_credentials",
                "token_url": "https://auth.example.com/token",
                "client_id": "{settings.client_id}",
                "client_secret": "{settings.client_secret}",
            }
        },
        "client.auth.token_url",
        ("unknown key", "'access_token_url'"),
    ),
    "a stream name used twice": (
        {"resources.2": {"name": "products", "endpoint": {"path": "/v2/products"}}},
        "resources[2].name",
        ("'products' is used twice",),
    ),
}
INLINE = [
    "an unknown key",
    "a paginator limit that is no number",
    "a child placeholder naming no resource",
    "processing_steps",
    "auth type oauth2",
    "a stream name used twice",
]


@pytest.mark.parametrize("case", CASES)
def test_a_bad_definition_file_is_one_line_naming_file_key_path_and_fault(
    api, tmp_path, case
) -> None:
    edits, where, faults = CASES[case]
    path = write(tmp_path, edited(payments(api), edits))
    line = error_line(run_cli([], config=config(api, str(path)), tmp_path=tmp_path))
    assert f"definition '{path}': {where}: " in line, line
    for fault in faults:
        assert fault in line, line
    assert_no_request(api)


@pytest.mark.parametrize("case", INLINE)
def test_a_bad_definition_in_the_setting_is_one_line_naming_the_setting(
    api, tmp_path, case
) -> None:
    edits, where, faults = CASES[case]
    definition = edited(payments(api), edits)
    line = error_line(run_cli([], config=config(api, definition), tmp_path=tmp_path))
    assert f"definition in setting 'definition': {where}: " in line, line
    for fault in faults:
        assert fault in line, line
    assert_no_request(api)


# id: (the file's bytes, what the line says is wrong)
FILES: dict[str, tuple[bytes, str]] = {
    "not YAML or JSON": (b"client: [base_url\nresources: products\n", "is not YAML or JSON"),
    "truncated JSON": (b'{"client": {"base_url": "https://api.example.com"', "is not YAML or JSON"),
    "not UTF-8 text": (b"\xff\xfe\x00client", "is not YAML or JSON"),
    "empty": (b"", "is empty"),
    "only a comment": (b"# the definition goes here\n", "holds nothing"),
    "a list": (b"- name: products\n  endpoint: /v1/products\n", "holds a list"),
}


@pytest.mark.parametrize("case", FILES)
def test_a_file_holding_no_definition_is_one_line_naming_it(api, tmp_path, case) -> None:
    text, fault = FILES[case]
    path = tmp_path / "payments_dlt.yml"
    path.write_bytes(text)
    line = error_line(run_cli([], config=config(api, str(path)), tmp_path=tmp_path))
    assert f"definition '{path}': {fault}" in line, line
    assert_no_request(api)


@pytest.mark.parametrize(
    "template",
    [
        '!!python/object/apply:os.system ["touch {marker}"]\n',
        'client:\n  base_url: !!python/object/apply:os.system ["touch {marker}"]\nresources: [products]\n',
    ],
    ids=["the whole file", "a value"],
)
def test_a_yaml_tag_that_would_run_code_is_refused_without_running_it(
    api, tmp_path, template
) -> None:
    marker = tmp_path / "the-tag-ran"
    path = tmp_path / "payments_dlt.yml"
    path.write_text(template.format(marker=marker))
    line = error_line(run_cli([], config=config(api, str(path)), tmp_path=tmp_path))
    assert f"definition '{path}': holds a YAML tag that would build a Python object" in line
    assert not marker.exists()
    assert_no_request(api)


def test_a_missing_definition_file_is_one_line_naming_it(api, tmp_path) -> None:
    path = tmp_path / "nowhere" / "payments_dlt.yml"
    line = error_line(run_cli([], config=config(api, str(path)), tmp_path=tmp_path))
    assert f"definition '{path}': the file does not exist" in line, line
    assert_no_request(api)


UNSET_SETTING = {"resources.0.endpoint.params": {"store": "{settings.store_code}"}}


def test_a_setting_the_definition_uses_but_the_config_lacks_is_one_line_naming_it(
    api, tmp_path
) -> None:
    path = write(tmp_path, edited(payments(api), UNSET_SETTING))
    line = error_line(run_cli([], config=config(api, str(path)), tmp_path=tmp_path))
    assert "setting 'store_code' is required" in line, line
    assert "resources[0].endpoint.params.store" in line, line
    assert_no_request(api)


def test_an_unset_setting_line_names_the_definition_file(api, tmp_path) -> None:
    path = write(tmp_path, edited(payments(api), UNSET_SETTING), name="my_store.yml")
    line = error_line(run_cli([], config=config(api, str(path)), tmp_path=tmp_path))
    assert f"'{path}'" in line, line


def test_a_fault_in_resource_defaults_names_its_key_path_there(api, tmp_path) -> None:
    edits = {"resource_defaults.endpoint": {"paginatr": {"type": "offset", "limit": 100}}}
    path = write(tmp_path, edited(payments(api), edits))
    line = error_line(run_cli([], config=config(api, str(path)), tmp_path=tmp_path))
    assert f"definition '{path}': resource_defaults.endpoint.paginatr: " in line, line


def test_a_resolve_param_naming_no_resource_names_its_key_path(api, tmp_path) -> None:
    child = {
        "name": "product_images",
        "endpoint": {
            "path": "/v1/images",
            "params": {"product_id": {"type": "resolve", "resource": "product", "field": "id"}},
        },
    }
    path = write(tmp_path, edited(payments(api), {"resources.2": child}))
    line = error_line(run_cli([], config=config(api, str(path)), tmp_path=tmp_path))
    assert f"definition '{path}': resources[2].endpoint.params.product_id: " in line, line
    assert "names resource 'product'" in line, line


def test_a_resource_naming_itself_as_parent_is_told_so(api, tmp_path) -> None:
    child = {"name": "tags", "endpoint": {"path": "/v1/tags/{resources.tags.id}/more"}}
    path = write(tmp_path, edited(payments(api), {"resources.2": child}))
    line = error_line(run_cli([], config=config(api, str(path)), tmp_path=tmp_path))
    assert "cannot be its own parent" in line, line


# -- --discover --------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["an unknown key", "a child placeholder naming no resource"])
def test_discover_refuses_a_bad_definition_file_in_one_line(api, tmp_path, case) -> None:
    edits, where, faults = CASES[case]
    path = write(tmp_path, edited(payments(api), edits))
    out = run_cli(["--discover"], config=config(api, str(path)), tmp_path=tmp_path)
    line = error_line(out)
    assert f"definition '{path}': {where}: " in line, line
    for fault in faults:
        assert fault in line, line
    assert_no_request(api)


def test_discover_refuses_a_bad_definition_in_the_setting_in_one_line(api, tmp_path) -> None:
    edits, where, faults = CASES["a paginator limit that is no number"]
    definition = edited(payments(api), edits)
    line = error_line(run_cli(["--discover"], config=config(api, definition), tmp_path=tmp_path))
    assert f"definition in setting 'definition': {where}: " in line, line
    assert all(fault in line for fault in faults), line
    assert_no_request(api)


@pytest.mark.parametrize("case", ["not YAML or JSON", "a list"])
def test_discover_refuses_a_file_holding_no_definition_in_one_line(api, tmp_path, case) -> None:
    text, fault = FILES[case]
    path = tmp_path / "payments_dlt.yml"
    path.write_bytes(text)
    line = error_line(run_cli(["--discover"], config=config(api, str(path)), tmp_path=tmp_path))
    assert f"definition '{path}': {fault}" in line, line
    assert_no_request(api)


def test_discover_refuses_a_missing_definition_file_in_one_line(api, tmp_path) -> None:
    path = tmp_path / "nowhere" / "payments_dlt.yml"
    line = error_line(run_cli(["--discover"], config=config(api, str(path)), tmp_path=tmp_path))
    assert f"definition '{path}': the file does not exist" in line, line
    assert_no_request(api)


def test_discover_names_an_unset_setting_in_its_error_line(api, tmp_path) -> None:
    path = write(tmp_path, edited(payments(api), UNSET_SETTING))
    line = error_line(run_cli(["--discover"], config=config(api, str(path)), tmp_path=tmp_path))
    assert "setting 'store_code' is required" in line, line
    assert "resources[0].endpoint.params.store" in line, line
    assert_no_request(api)
