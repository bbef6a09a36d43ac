"""The API framework: API messages declare their REST binding; writes run as jobs."""

from mgmt.core.api.jobs import ApiJobInserts, ApiJobRow, ApiJobService, ApiJobSweeper, JobState
from mgmt.core.api.spec import (
    JOB_STATUSES,
    SERVER_FIELDS,
    ApiCodes,
    ApiRequest,
    ApiSpec,
    CallerContext,
    body_fields,
    caller_of,
    http_status,
    innermost_meaningful,
    not_found,
)

__all__ = [
    "JOB_STATUSES",
    "SERVER_FIELDS",
    "ApiCodes",
    "ApiJobInserts",
    "ApiJobRow",
    "ApiJobService",
    "ApiJobSweeper",
    "ApiRequest",
    "ApiSpec",
    "CallerContext",
    "JobState",
    "body_fields",
    "caller_of",
    "http_status",
    "innermost_meaningful",
    "not_found",
]
