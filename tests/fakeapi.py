"""Small, strict fakes of the contract's list endpoints, served by pytest-httpserver.

Each handler implements one pagination kind exactly as contract §2 describes it (and
answers 400 where the contract says the real API does), so tests can assert both the
records the tap emits and the requests it actually sent (``httpserver.log``).
"""

from __future__ import annotations

import base64
import re
from datetime import date

from werkzeug import Request, Response

from tap_commerce.normalize import parse_datetime
from tests.harness import dumps


def json_response(body: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(dumps(body), status=status, headers=headers, content_type="application/json")


def bad_request(message: str) -> Response:
    return json_response({"message": message}, 400)


def basic_user(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def offset_handler(
    records: list[dict],
    *,
    selector: str | None = "data",
    max_limit: int = 100,
    total: bool = False,
    check=None,
):
    """``offset``/``limit`` lists; ``selector=None`` answers the bare array."""

    def handler(request: Request) -> Response:
        if check and (failure := check(request)):
            return failure
        try:
            offset = int(request.args.get("offset", 0))
            limit = int(request.args.get("limit", 20))
        except ValueError:
            return bad_request("offset and limit must be integers")
        if limit > max_limit or limit < 1:
            return bad_request(f"limit must be 1..{max_limit}")
        page = records[offset : offset + limit]
        if selector is None:
            return json_response(page)
        body: dict = {selector: page}
        if total:
            body["total"] = len(records)
        return json_response(body)

    return handler


def page_handler(records: list[dict], *, wrapper: str, object_form: bool = False, check=None):
    """1-based ``page``/``per_page`` (clamped to 50); digital's ``from``/``to`` on created_at."""

    def handler(request: Request) -> Response:
        if check and (failure := check(request)):
            return failure
        if request.headers.get("Accept") != "application/json":
            return json_response({"error": "not acceptable"}, 406)
        page = int(request.args.get("page", 1))
        per_page = min(int(request.args.get("per_page", 50)), 50)
        rows = records
        if "from" in request.args or "to" in request.args:
            start = date.fromisoformat(request.args["from"])
            end = date.fromisoformat(request.args["to"])
            rows = [r for r in rows if start <= parse_datetime(r["created_at"]).date() <= end]
        chunk = rows[(page - 1) * per_page : page * per_page]
        if object_form:
            return json_response({wrapper: chunk})
        return json_response([{wrapper: r} for r in chunk])

    return handler


_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def cursor_handler(
    server,
    path: str,
    records: list[dict],
    *,
    selector: str,
    page_size: int = 3,
    filterable: bool = False,
):
    """storefront: server-fixed pages, absolute ``nextPageUrl`` carrying ``?cursor=``."""

    def handler(request: Request) -> Response:
        if not request.headers.get("User-Agent"):
            return json_response({"type": "ERROR", "message": "User-Agent required"}, 400)
        args = dict(request.args)
        rows = records
        if "cursor" in args:
            if len(args) > 1:
                return bad_request("cursor cannot be combined with other parameters")
            start = int(args["cursor"])
            after, before = server.storefront_filter.get(path, (None, None))
        else:
            start = 0
            unknown = set(args) - {"modifiedAfter", "modifiedBefore"}
            if unknown:
                return bad_request(f"unknown parameters {sorted(unknown)}")
            after, before = args.get("modifiedAfter"), args.get("modifiedBefore")
            if (after is None) != (before is None):
                return bad_request("modifiedAfter and modifiedBefore go together")
            if after is not None:
                if not filterable:
                    return bad_request("this list has no filter")
                if not (_MS_Z.match(after) and _MS_Z.match(before)):
                    return bad_request("dates must be YYYY-MM-DDTHH:MM:SS.sssZ")
                if after > before:
                    return bad_request("inverted window")
            server.storefront_filter[path] = (after, before)
        if after is not None:
            low, high = parse_datetime(after), parse_datetime(before)
            rows = sorted(
                (r for r in rows if low <= parse_datetime(r["modifiedOn"]) <= high),
                key=lambda r: parse_datetime(r["modifiedOn"]),
                reverse=True,
            )
        page = rows[start : start + page_size]
        more = start + page_size < len(rows)
        next_url = server.url_for(f"{path}?cursor={start + page_size}") if more else None
        return json_response(
            {
                selector: page,
                "pagination": {
                    "hasNextPage": more,
                    "nextPageCursor": str(start + page_size) if more else None,
                    "nextPageUrl": next_url,
                },
            }
        )

    return handler


_FILTER = re.compile(r"^lastmodifieddate:\[(.+?Z)\.\.(.*)\]$")


def orders_handler(
    server, records: list[dict], *, max_limit: int = 200, token: str = "fake-access-token"
):
    """orders: bearer token, ``filter=lastmodifieddate:[from..to]``, offset/limit, total."""

    def handler(request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {token}":
            return json_response(
                {"errors": [{"errorId": 1001, "message": "Invalid access token"}]}, 401
            )
        offset = int(request.args.get("offset", 0))
        limit = int(request.args.get("limit", 50))
        if limit > max_limit:
            return bad_request("limit too large")
        rows = sorted(records, key=lambda r: parse_datetime(r["last_modified_date"]))
        spec = request.args.get("filter")
        if spec is None:
            rows = rows[-2:]  # stands in for "only the last 90 days"
        else:
            match = _FILTER.match(spec)
            if not match:
                return bad_request(f"bad filter {spec}")
            low = parse_datetime(match.group(1))
            high = parse_datetime(match.group(2)) if match.group(2) else None
            rows = [
                r
                for r in rows
                if low <= parse_datetime(r["last_modified_date"])
                and (high is None or parse_datetime(r["last_modified_date"]) <= high)
            ]
        page = rows[offset : offset + limit]
        body = {
            "href": request.url,
            "orders": page,
            "total": len(rows),
            "offset": offset,
            "limit": limit,
        }
        if offset + limit < len(rows):
            body["next"] = server.url_for(f"/v1/orders?offset={offset + limit}&limit={limit}")
        return json_response(body)

    return handler


def sent(server, path: str) -> list[Request]:
    """Requests the tap sent to ``path``, in order."""
    return [request for request, _ in server.log if request.path == path]
