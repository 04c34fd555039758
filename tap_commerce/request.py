"""How a page's request is built from a resource's definition.

Once per stream (`RequestBuilder`): the URL template joined onto the base URL, the
static params, headers and body. Per page (`RequestBuilder.build`): the parent's fields
and the incremental bounds filled into the placeholders, the filter's ``start_param`` and
``end_param``, and the paginator's token (`Paginator.apply`), which may replace the whole
URL with a next-page link and clear the params, as dlt does.
"""

from __future__ import annotations

import typing as t

from singer_sdk.streams.rest import HTTPRequest

from tap_commerce.pagination import RequestParts
from tap_commerce.template import INCREMENTAL, RESOURCES, Field, Template
from tap_commerce.window import filter_bounds, format_bound

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from tap_commerce.definition import Resource
    from tap_commerce.pagination import Paginator
    from tap_commerce.settings import Settings
    from tap_commerce.window import Window


def join_url(base_url: str, path: str) -> str:
    """A path joined onto the base URL's path, without a lost segment or a ``//``
    (contract §1.1; dlt joins the same way). An absolute URL stands as it is.
    """
    if path.startswith(("http://", "https://")):
        return path
    return base_url.rstrip("/") + "/" + path.lstrip("/")


class RequestBuilder:
    """The requests of one resource (see the module docstring)."""

    def __init__(
        self, resource: Resource, *, base_url: str, headers: dict[str, str], settings: Settings
    ) -> None:
        """Requests of ``resource`` against ``base_url``, with the run's ``headers``."""
        self.resource = resource
        self.settings = settings
        self.base_url = base_url
        self.headers = headers
        self.method = resource.method
        parent = resource.parent
        self._parent_fields = (
            [(Field(RESOURCES, f"{parent.resource}.{f}"), parent.context[f]) for f in parent.fields]
            if parent
            else []
        )
        constant = resource.path.constant
        self._url = None if constant is None else join_url(base_url, constant)

    def build(
        self,
        *,
        context: Mapping[str, t.Any] | None,
        token: t.Any,
        paginator: Paginator,
        window: Window | None,
    ) -> HTTPRequest:
        """The request of the page whose paginator token is ``token``."""
        resource = self.resource
        values: dict[Field, t.Any] = {}
        if context is not None:
            for field, name in self._parent_fields:
                values[field] = context[name]
        url = self._url or join_url(self.base_url, resource.path.render(values))
        parts = RequestParts(url=url, params={}, json=None)
        bounds = None
        incremental = resource.incremental
        if incremental is not None and window is not None:
            bounds = filter_bounds(window, incremental, self.settings)
        parts.json = _render(resource.json, values) if resource.json is not None else None
        paginator.apply(token, parts)
        if parts.params is not None and parts.url == url:  # not a next-page link
            params = self._params(values, bounds, parts.start_value)
            parts.params = {**params, **parts.params}
        return HTTPRequest(
            url=parts.url,
            method=self.method,
            headers=self.headers,
            params=parts.params,
            data=parts.json if parts.json is not None else _render(resource.data, values),
        )

    def _params(
        self,
        values: dict[Field, t.Any],
        bounds: tuple[t.Any, t.Any] | None,
        start_value: t.Any,
    ) -> dict[str, t.Any]:
        resource = self.resource
        incremental = resource.incremental
        params: dict[str, t.Any] = {}
        if incremental is not None and (bounds is not None or start_value is not None):
            value_format = incremental.value_format
            start, end = start_value, None
            if bounds is not None:
                lower, upper = bounds
                start = start if start is not None else format_bound(lower, value_format)
                end = format_bound(upper, value_format)
            values = {
                **values,
                Field(INCREMENTAL, "start_value"): start,
                Field(INCREMENTAL, "last_value"): start,
                Field(INCREMENTAL, "initial_value"): incremental.initial_value or start,
                Field(INCREMENTAL, "end_value"): end,
            }
            if incremental.start_param:
                params[incremental.start_param] = start
            if incremental.end_param and end is not None:
                params[incremental.end_param] = end
        for name, value in resource.params.items():
            if not isinstance(value, Template):
                params[name] = value
            elif all(field in values for field in value.fields):
                params[name] = value.render(values)
            # a param whose incremental bound is not sent this run is left out
        return params


def _render(value: t.Any, values: dict[Field, t.Any]) -> t.Any:
    if isinstance(value, Template):
        return value.render(values)
    if isinstance(value, dict):
        return {k: _render(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, values) for v in value]
    return value
