"""The zcloud Python client and CLI.

``AsyncZCloud`` / ``ZCloud`` talk to the REST API, driven by the server's ``/openapi.json``;
``mgmt.client.cli.main`` is the ``zcloud`` command-line front end on top of them. The client
imports nothing from the server side, so it can ship on its own.
"""

from mgmt.client.client import AsyncZCloud, ZCloud
from mgmt.client.core import PollPolicy, ProgressCallback, QueryResult, RetryPolicy
from mgmt.client.errors import ApiError, ClientError, ConnectionFailed, JobTimeout, UsageError
from mgmt.client.session import (
    SavedSession,
    clear_session,
    load_session,
    save_session,
    session_path,
)
from mgmt.client.spec import OperationInfo, ParamInfo

__all__ = [
    "ApiError",
    "AsyncZCloud",
    "ClientError",
    "ConnectionFailed",
    "JobTimeout",
    "OperationInfo",
    "ParamInfo",
    "PollPolicy",
    "ProgressCallback",
    "QueryResult",
    "RetryPolicy",
    "SavedSession",
    "UsageError",
    "ZCloud",
    "clear_session",
    "load_session",
    "save_session",
    "session_path",
]
