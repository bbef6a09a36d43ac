"""The API framework: API messages declare their REST binding; writes run as jobs."""

from mgmt.core.api.jobs import ApiJobInserts, ApiJobRow, ApiJobService, ApiJobSweeper, JobState
from mgmt.core.api.spec import (
    JOB_STATUSES,
    SERVER_FIELDS,
    UUID_PATTERN,
    ApiCodes,
    ApiRequest,
    ApiSpec,
    CallerContext,
    DeleteMode,
    body_fields,
    caller_of,
    delete_mode,
    http_status,
    innermost_meaningful,
    not_found,
    uuid_ref,
)

__all__ = [
    "JOB_STATUSES",
    "SERVER_FIELDS",
    "UUID_PATTERN",
    "ApiCodes",
    "ApiJobInserts",
    "ApiJobRow",
    "ApiJobService",
    "ApiJobSweeper",
    "ApiRequest",
    "ApiSpec",
    "CallerContext",
    "DeleteMode",
    "JobState",
    "body_fields",
    "caller_of",
    "delete_mode",
    "http_status",
    "innermost_meaningful",
    "not_found",
    "uuid_ref",
]
