"""JSONPath selectors of a definition (``data_selector``, ``total_path``, ``cursor_path``…),
compiled once.

The paths definitions use (``data``, ``pagination.nextPageUrl``, ``$[*].product``, ``$``)
are walked by plain dictionary and list steps; any other JSONPath is handed to
jsonpath-ng, as dlt does. `Selector.find` has dlt's meaning (every match, in order);
`Selector.records` is dlt's ``data_selector`` extraction made strict: a body where the
path is absent is told apart from an empty page, and a wrapper without its key is an
error, not a record silently lost.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.parser import parse as parse_jsonpath

#: a step: a key of an object, an index of an array, or every item (``[*]``, ``.*``)
Step: t.TypeAlias = (
    "tuple[t.Literal['key'], str] | tuple[t.Literal['index'], int] | tuple[t.Literal['all'], None]"
)

_STEP = re.compile(
    r"""
    \.?(?P<name>[A-Za-z_][\w-]*)      # name or .name
    | \[(?P<index>-?\d+)\]            # [0]
    | \[(?P<quote>['"])(?P<quoted>[^'"]*)(?P=quote)\]   # ['name']
    | (?P<all>\[\*\]|\.\*)            # [*] or .*
    """,
    re.VERBOSE,
)


class SelectorError(ValueError):
    """A JSONPath that cannot be read."""


class MismatchError(ValueError):
    """A body that has the selector's container but not its shape (see `Selector.records`)."""


@dataclasses.dataclass(frozen=True)
class Selector:
    """One compiled JSONPath."""

    source: str
    steps: tuple[Step, ...] | None  # None: jsonpath-ng reads it
    compiled: t.Any = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def top_level_field(self) -> str | None:
        """The field name when the path is one top-level key (``data``), else None."""
        if self.steps and len(self.steps) == 1 and self.steps[0][0] == "key":
            return self.steps[0][1]
        return None

    def find(self, value: t.Any) -> list[t.Any]:
        """Every match, in order (dlt's ``jsonpath.find_values``)."""
        if self.steps is None:
            return [match.value for match in self.compiled.find(value)]
        found = [value]
        for step in self.steps:
            found = list(_step(found, step))
        return found

    def first(self, value: t.Any, default: t.Any = None) -> t.Any:
        """The first match, or ``default``."""
        found = self.find(value)
        return found[0] if found else default

    def records(self, body: t.Any) -> list[t.Any] | None:
        """The records of a response body, or None when the path is not in it at all.

        As dlt extracts them: one match that is a list is the page, one object is a page
        of one record, null is an empty page, several matches are the records. Stricter
        than dlt where it would lose records silently: through a ``[*]`` every item must
        have the rest of the path (`MismatchError` names the first that has not), and a path
        that is absent is None rather than an empty page.
        """
        steps = self.steps
        if steps is not None and len(steps) == 1 and steps[0][0] == "key":
            if not isinstance(body, dict) or steps[0][1] not in body:
                return None
            return _page(body[steps[0][1]])
        if steps is not None and any(kind == "all" for kind, _ in steps):
            return self._wrapped(body, steps)
        found = self.find(body)
        if not found:
            return None
        return _page(found[0]) if len(found) == 1 else found

    def _wrapped(self, body: t.Any, steps: tuple[Step, ...]) -> list[t.Any] | None:
        cut = next(i for i, (kind, _) in enumerate(steps) if kind == "all")
        head, rest = Selector(self.source, steps[:cut]), Selector(self.source, steps[cut + 1 :])
        containers = head.find(body) if cut else [body]
        if len(containers) != 1 or not isinstance(containers[0], list):
            return None
        records: list[t.Any] = []
        for number, item in enumerate(containers[0]):
            found = rest.find(item) if rest.steps else [item]
            if not found:
                msg = f"item {number} of the list has no {rest.source_of_steps()}"
                raise MismatchError(msg)
            records.extend(found)
        return records

    def source_of_steps(self) -> str:
        """The path of `steps`, written out (for messages)."""
        out = ""
        for kind, value in self.steps or ():
            out += f".{value}" if kind == "key" else "[*]" if kind == "all" else f"[{value}]"
        return repr(out.lstrip("."))


def _step(found: list[t.Any], step: Step) -> t.Iterator[t.Any]:
    kind, value = step
    for item in found:
        if kind == "key":
            if isinstance(item, dict) and value in item:
                yield item[value]
        elif kind == "index":
            if isinstance(item, list) and -len(item) <= t.cast("int", value) < len(item):
                yield item[t.cast("int", value)]
        elif isinstance(item, list):
            yield from item
        elif isinstance(item, dict):
            yield from item.values()


def _page(value: t.Any) -> list[t.Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def compile_selector(path: str) -> Selector:
    """Compile a JSONPath (``$`` alone selects the whole body).

    Raises:
        SelectorError: if jsonpath-ng cannot read it either.
    """
    text = path.strip()
    body = text.removeprefix("$")
    steps: list[Step] = []
    position = 0
    while position < len(body):
        match = _STEP.match(body, position)
        if match is None or (position == 0 and body[0] == "." and not text.startswith("$")):
            break
        if match["name"] is not None:
            steps.append(("key", match["name"]))
        elif match["index"] is not None:
            steps.append(("index", int(match["index"])))
        elif match["quoted"] is not None:
            steps.append(("key", match["quoted"]))
        else:
            steps.append(("all", None))
        position = match.end()
    if position == len(body):
        return Selector(path, tuple(steps))
    try:
        compiled = parse_jsonpath(text)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:  # noqa: BLE001 - jsonpath-ng raises bare Exceptions too
        msg = f"{path!r} is not a JSONPath ({' '.join(str(exc).split())})"
        raise SelectorError(msg) from None
    return Selector(path, None, compiled)


def detect_selector(body: t.Any) -> Selector:
    """Dlt's detection of where a page's records are, for a definition without
    ``data_selector``: the body itself if it is a list, else the list under a key such as
    ``data``, ``items`` or ``results`` (two levels deep at most), else the first list.
    """
    if not isinstance(body, dict):
        return compile_selector("$")
    found = _lists(body, ())
    names = {
        "data",
        "items",
        "results",
        "entries",
        "records",
        "rows",
        "entities",
        "payload",
        "content",
        "objects",
        "values",
    }
    skip = {"meta", "metadata", "pagination", "links", "extras", "headers"}
    for path in found:
        if path[-1] in names and path[-1] not in skip:
            return compile_selector(".".join(path))
    return compile_selector(".".join(found[0])) if found else compile_selector("$")


def _lists(value: dict[str, t.Any], path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Paths of the lists in an object, the least nested first (dlt's ``find_all_lists``)."""
    if len(path) > 2:  # noqa: PLR2004 - dlt's depth
        return []
    found = [(*path, key) for key, item in value.items() if isinstance(item, list)]
    for key, item in value.items():
        if isinstance(item, dict):
            found += _lists(item, (*path, key))
    return found
