"""What a collection query's ``sort``, ``fields`` and ``groupBy`` may be, for the OpenAPI
document and for the check that the frontend runs before the query: one definition, so
the document accepts exactly what the server does.

The values are a resource's own fields (``QueryableResource.fields``). An empty value means
the parameter is absent, as a form or a script with an unset variable sends it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mgmt.core.api import ApiCodes
from mgmt.core.errors import error
from mgmt.core.query import QueryRegistry
from mgmt.frontend.auth import ApiHttpError


@dataclass(frozen=True)
class QueryParams:
    fields: tuple[str, ...]

    @classmethod
    def of(cls, registry: QueryRegistry, name: str) -> QueryParams:
        resource = registry.get(name)
        assert resource is not None, f"{name} is readable but not queryable"
        return cls(tuple(sorted(resource.fields)))

    @property
    def sort_values(self) -> list[str]:
        # a "+" typed into a URL arrives as a space: the check strips it, the document
        # lists the spelling a client should send
        return ["", *self.fields, *(f"+{f}" for f in self.fields), *(f"-{f}" for f in self.fields)]

    @property
    def fields_pattern(self) -> str:
        one = "(?:" + "|".join(re.escape(f) for f in self.fields) + ")"
        return rf"^\s*(?:{one}(?:\s*,\s*{one})*)?\s*$"

    def sort_schema(self) -> dict[str, Any]:
        return {"enum": self.sort_values}

    def fields_schema(self) -> dict[str, Any]:
        return {"pattern": self.fields_pattern}

    def group_by_schema(self) -> dict[str, Any]:
        return {"enum": ["", *self.fields]}

    def sort(self, value: str | None) -> str | None:
        text = (value or "").strip()
        if text and text.lstrip("+-") not in self.fields:
            raise _bad("sort", text, "a field, optionally after + or -")
        return text or None

    def selected(self, value: str | None) -> list[str] | None:
        if value is None or not value.strip():
            return None
        if re.search(self.fields_pattern, value) is None:  # as JSON Schema reads `pattern`
            raise _bad("fields", value, "a comma list of fields")
        return [f.strip() for f in value.split(",")]

    def group_by(self, value: str | None) -> str | None:
        text = (value or "").strip()
        if text and text not in self.fields:
            raise _bad("groupBy", text, "a field")
        return text or None


def _bad(param: str, value: str, expected: str) -> ApiHttpError:
    details = f"{param}: {value!r} is not {expected} of this resource"
    return ApiHttpError(400, error(ApiCodes.INVALID_ARGUMENT, details, field=param, token=value))
