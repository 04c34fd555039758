"""The ``store`` setting: many stores of one API in one table per stream.

With a store, every record carries its name in the field ``store``, every schema declares
it (a non-null string, the first property) and every key starts with it, so that two
stores' records with the same id are two rows. A stream without a key (``append``) stays
without one: a key of the store alone would merge every record of the store into one row.
"""

from __future__ import annotations

import typing as t

from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import Metadata, Schema

from tap_commerce.settings import STORE_FIELD

if t.TYPE_CHECKING:
    from collections.abc import Sequence

    from singer_sdk.singerlib import Catalog


def with_store(schema: dict[str, t.Any], stream: str, *, declared: bool) -> dict[str, t.Any]:
    """A copy of ``schema`` with ``store`` as its first property, required.

    ``declared``: the schema is the definition's (a file); a ``store`` field there is the
    API's own, which the setting would overwrite, so it is refused in one line. (A schema
    from a catalog or inferred from records may hold the tap's own ``store`` already.)
    """
    properties = schema.get("properties") or {}
    if declared and STORE_FIELD in properties:
        msg = (
            f"setting 'store': stream '{stream}' has a field '{STORE_FIELD}' of its own, "
            "which the setting would overwrite"
        )
        raise ConfigValidationError(msg, errors=[msg])
    rest = {k: v for k, v in properties.items() if k != STORE_FIELD}
    required = [STORE_FIELD, *(k for k in schema.get("required") or () if k != STORE_FIELD)]
    return {**schema, "properties": {STORE_FIELD: {"type": "string"}, **rest}, "required": required}


def keyed_by_store(keys: Sequence[str], store: str | None) -> list[str]:
    """The stream's key with the store first (unchanged without a store, or without a key)."""
    if store is None or not keys:
        return list(keys)
    return [STORE_FIELD, *keys]


def add_to_catalog(catalog: Catalog, store: str) -> None:
    """Give every stream of an input catalog the store, in place: its schema's first
    property (always included) and the first field of its key. A catalog discovered
    without the ``store`` setting has neither, and singer-sdk's stream maps (whose SCHEMA
    messages the target reads) are made from the input catalog.
    """
    for entry in catalog.values():
        schema = entry.schema.to_dict()
        if STORE_FIELD in (schema.get("properties") or {}):
            continue
        entry.schema = Schema.from_dict(with_store(schema, entry.tap_stream_id, declared=False))
        keys = keyed_by_store(entry.key_properties or [], store)
        entry.key_properties = keys
        root = entry.metadata.root
        if root.table_key_properties:
            root.table_key_properties = keyed_by_store(root.table_key_properties, store)
        entry.metadata[("properties", STORE_FIELD)] = Metadata(
            inclusion=Metadata.InclusionType.AUTOMATIC
        )
