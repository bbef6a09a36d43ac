"""Global config through the REST API: read by anyone, changed by admins.

``PUT /v1/global-configs/<category>.<name> {"value": ...}``; ``GET /v1/global-configs``
queries them like any collection (``q=category=identity``).
"""

from __future__ import annotations

import json
import math

from pydantic import ConfigDict, Field, field_validator

from mgmt.core.api import ApiCodes, ApiRequest, ApiSpec, CallerContext, not_found
from mgmt.core.api.reads import ReadableResource, plain
from mgmt.core.errors import PermanentError, error
from mgmt.core.gconfig.messages import GlobalConfigInventory, UpdateGlobalConfigReply
from mgmt.core.gconfig.models import GlobalConfigRow
from mgmt.core.query import QueryableResource

MAX_VALUE_CHARS = 65536


class UpdateGlobalConfigValue(ApiRequest[UpdateGlobalConfigReply]):
    """Change a global config (admin only); every node applies it within seconds."""

    api = ApiSpec(
        "update", "global-configs", "GlobalConfig", "Update a global config", admin_only=True
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{"value": 3600}]})

    value: str | int | float | bool = Field(
        description="The new value, read by the config's declared type: a JSON number or "
        'boolean, JSON text (`"3600"`, `"true"`) or a plain string.',
    )

    @field_validator("value", mode="after")
    @classmethod
    def _as_text(cls, value: str | int | float | bool) -> str:
        # one form on the bus and for the definition: JSON text, which the config's type
        # then reads (3600 and "3600" are the same for an int config, and "3600" for a str
        # one); so any client may send a number for a number, whatever it knows of the type
        if isinstance(value, str):
            if len(value) > MAX_VALUE_CHARS:
                raise ValueError(f"at most {MAX_VALUE_CHARS} characters")
            return value
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return json.dumps(value)

    def identity(self) -> tuple[str, str]:
        """(category, name) from the path id ``<category>.<name>``."""
        category, _, name = self.resourceUuid.partition(".")
        if not category or not name:
            raise PermanentError(not_found("GlobalConfig", self.resourceUuid))
        if not isinstance(self.caller, CallerContext) or not self.caller.isAdmin:
            raise PermanentError(error(ApiCodes.PERMISSION_DENIED, "admin only"))
        return category, name


def inventory(row: GlobalConfigRow) -> GlobalConfigInventory:
    return GlobalConfigInventory(
        category=row.category,
        name=row.name,
        value=row.value,
        defaultValue=row.default_value,
        description=row.description,
        version=row.version,
        updateDate=row.updated_at,
    )


def readables() -> list[ReadableResource]:
    identity = (GlobalConfigRow.category + "." + GlobalConfigRow.name).label("uuid")
    query = QueryableResource(
        "GlobalConfig",
        GlobalConfigRow,
        identity,
        {
            "uuid": identity,
            "category": GlobalConfigRow.category,
            "name": GlobalConfigRow.name,
            "value": GlobalConfigRow.value,
            "defaultValue": GlobalConfigRow.default_value,
            "version": GlobalConfigRow.version,
            "updateDate": GlobalConfigRow.updated_at,
        },
    )
    return [ReadableResource(query, "global-configs", plain(inventory), GlobalConfigInventory)]
