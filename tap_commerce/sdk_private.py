"""Every singer-sdk private name the tap uses, in one place, with where and why.

singer-sdk keeps these out of its public interface, so a new release may change any of
them without notice: on an upgrade, check each one against the new source (and
`tests/test_sdk_private.py` fails until this list and the code agree again). Written
against `SDK_VERSION`; the ``singer-sdk`` pin in ``pyproject.toml`` holds the project to it.
"""

from __future__ import annotations

SDK_VERSION = "0.54.9"

#: name -> "module: how it is used, and why"
PRIVATE_NAMES: dict[str, str] = {
    # -- modules and classes that are private --------------------------------------------
    "singer_sdk.configuration._dict_config.parse_environment_config": (
        "tap.py: reads TAP_COMMERCE_<SETTING> variables with every setting as a string, so "
        "that fractional numbers from the environment are parsed (and refused in one line) "
        "by the tap instead of rejected by singer-sdk"
    ),
    "singer_sdk.helpers._classproperty.classproperty": (
        "tap.py: `_env_var_config` is a class property in singer-sdk; the override must be one"
    ),
    "singer_sdk.helpers._util.load_json": (
        "inputs.py: the state and catalog files are read as singer-sdk reads them (exact "
        "decimals), after the tap's own checks"
    ),
    "singer_sdk.plugin_base._ConfigInput": (
        "tap.py: the parsed --config option `invoke` and `cb_test` receive from singer-sdk's "
        "command"
    ),
    # -- the tap ---------------------------------------------------------------------------
    "_config": (
        "tap.py: the settings as given, validated against the chosen definition in "
        "`_validate_config`"
    ),
    "_env_var_config": "tap.py: overridden, see parse_environment_config above",
    "_env_var_prefix": (
        "tap.py: the TAP_COMMERCE_ prefix, to find `api` and `definition` in the environment "
        "before the tap class is chosen"
    ),
    "_validate_config": (
        "tap.py: overridden: settings are validated against the chosen API's definition "
        "(one line per mistake, secrets never echoed) and the run context is made"
    ),
    # -- the reading side of a stream --------------------------------------------------------
    "_request": (
        "client.py: overridden: one attempt goes through the run's Transport (pacing) and "
        "an expired OAuth token is renewed once on a 401"
    ),
    "_write_request_duration_log": (
        "client.py: called from the `_request` override, to keep singer-sdk's per-request metric"
    ),
    "_process_record": (
        "client.py: a record the window keeps out still has its children synced "
        "(child_sync all), through singer-sdk's own per-record step; and `_whole_pages` "
        "checks that no subclass overrides it"
    ),
    "_log_metric": ("children.py: overridden: a child stream's per-parent timer lines go to DEBUG"),
    # -- the writing side (stdout.py) ------------------------------------------------------
    "_sync_records": (
        "stdout.py: overridden: where a stream's run starts and ends (progress lines, the "
        "run's version, ACTIVATE_VERSION, the final STATE) and where the page-at-a-time loop "
        "stands in for singer-sdk's per-record loop"
    ),
    "_write_record_message": (
        "stdout.py: overridden: a RECORD written straight from the record when nothing "
        "would change it (singer-sdk copies every record into a message object)"
    ),
    "_write_schema_message": (
        "stdout.py: overridden: a child stream's SCHEMA once a run, not once per parent; "
        "re-sent when a kept field is added"
    ),
    "_increment_stream_state": (
        "stdout.py: overridden (a record that cannot raise the bookmark is skipped) and "
        "called by the page-at-a-time loop with each page's largest value"
    ),
    "_stream_version": (
        "stdout.py: set to the run's version on a complete read (None otherwise): "
        "singer-sdk's record path writes it into each RECORD"
    ),
    "_write_activate_version_message": (
        "stdout.py: ACTIVATE_VERSION after the last record of a complete read (singer-sdk "
        "writes it before the records, and is switched off)"
    ),
    "_write_state_message": "stdout.py: STATE every STATE_MSG_FREQUENCY records and at the end",
    "_write_starting_replication_value": (
        "stdout.py: the page-at-a-time loop starts the bookmark as singer-sdk's loop does"
    ),
    "_finalize_state": (
        "stdout.py: the page-at-a-time loop ends the bookmark as singer-sdk's loop does"
    ),
}
