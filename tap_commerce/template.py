"""Placeholders in a definition's strings, parsed once: ``{settings.NAME}``,
``{resources.<parent>.<field>}`` and ``{incremental.start_value}`` (dlt's syntax, with
``{{`` and ``}}`` for literal braces, as Python's `string.Formatter` reads them).
"""

from __future__ import annotations

import dataclasses
import string
import sys
import typing as t

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

#: the contexts a placeholder may name, and where each may appear
SETTINGS, RESOURCES, INCREMENTAL = "settings", "resources", "incremental"
INCREMENTAL_FIELDS = ("start_value", "end_value", "initial_value", "last_value")


class TemplateError(ValueError):
    """A placeholder that cannot be read; the message says why (no key path)."""


@dataclasses.dataclass(frozen=True)
class Field:
    """One placeholder: its context (``settings``…) and the rest of its name."""

    context: str
    name: str

    @override
    def __str__(self) -> str:
        """The placeholder as written: ``{settings.NAME}``."""
        return f"{{{self.context}.{self.name}}}"


@dataclasses.dataclass(frozen=True)
class Template:
    """A string with placeholders: literal text and `Field` parts, in order."""

    parts: tuple[str | Field, ...]
    source: str

    @property
    def fields(self) -> tuple[Field, ...]:
        """The placeholders, in order."""
        return tuple(p for p in self.parts if isinstance(p, Field))

    @property
    def constant(self) -> str | None:
        """The text, when there is no placeholder."""
        if any(isinstance(p, Field) for p in self.parts):
            return None
        return "".join(t.cast("tuple[str, ...]", self.parts))

    def render(self, values: t.Mapping[Field, t.Any]) -> str:
        """The text with every placeholder replaced by ``str(values[field])``."""
        return "".join(p if isinstance(p, str) else str(values[p]) for p in self.parts)

    def fill(self, context: str, values: t.Mapping[str, t.Any]) -> Template:
        """This template with the placeholders of one context replaced (others kept)."""
        parts: list[str | Field] = []
        for part in self.parts:
            filled = (
                str(values[part.name])
                if isinstance(part, Field) and part.context == context
                else part
            )
            if parts and isinstance(filled, str) and isinstance(parts[-1], str):
                parts[-1] += filled
            else:
                parts.append(filled)
        return Template(tuple(parts), self.source)


def parse(text: str, allowed: t.Collection[str]) -> Template:
    """Parse ``text``; a placeholder outside the ``allowed`` contexts is an error.

    Raises:
        TemplateError: a malformed brace, a placeholder without a context, or one whose
            context is not allowed here.
    """
    try:
        pieces = list(string.Formatter().parse(text))
    except ValueError as exc:
        msg = f"{text!r} is not a valid template ({exc}; write {{{{ and }}}} for literal braces)"
        raise TemplateError(msg) from None
    parts: list[str | Field] = []
    for literal, name, spec, conversion in pieces:
        if literal:
            parts.append(literal)
        if name is None:
            continue
        if spec or conversion:
            msg = f"placeholder {{{name}}} in {text!r}: format specs and conversions are not read"
            raise TemplateError(msg)
        context, dot, rest = name.partition(".")
        if not dot or not rest:
            msg = (
                f"placeholder {{{name}}} in {text!r} names no context: write "
                f"{{settings.NAME}}, {{resources.<parent>.<field>}} or "
                f"{{incremental.start_value}} (and {{{{ }}}} for literal braces)"
            )
            raise TemplateError(msg)
        if context not in allowed:
            where = ", ".join(f"{{{c}.…}}" for c in allowed) or "no placeholder"
            msg = f"placeholder {{{name}}} is not allowed here (allowed: {where})"
            raise TemplateError(msg)
        if context == INCREMENTAL and rest not in INCREMENTAL_FIELDS:
            msg = f"placeholder {{{name}}}: incremental has {', '.join(INCREMENTAL_FIELDS)}"
            raise TemplateError(msg)
        if context == RESOURCES and rest.count(".") < 1:
            msg = f"placeholder {{{name}}}: expected {{resources.<parent>.<field>}}"
            raise TemplateError(msg)
        parts.append(Field(context, rest))
    return Template(tuple(parts), text)
