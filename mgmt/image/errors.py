"""The image service's error codes and their HTTP statuses."""

from __future__ import annotations

from mgmt.core.errors import ErrorCode


class ImageCodes:
    #: the URL could not be downloaded (an HTTP error status, refused, unreachable): the
    #: client's URL is wrong, so a 400 naming ``url``, with the agent's reason as cause
    URL_FAILED = ("IMAGE.1001", "The image URL could not be downloaded")


STATUSES = {ImageCodes.URL_FAILED[0]: 400}

#: agent error codes (``DownloadImageReply.errorCode``) that mean the URL is at fault
URL_ERRORS = frozenset({"HTTP_ERROR", "BAD_URL", "HTTP"})


def agent_code(err: ErrorCode | None) -> str | None:
    """The agent's ``errorCode`` somewhere down the cause chain, if there is one."""
    while err is not None:
        code = err.extra.get("agentCode")
        if code:
            return str(code)
        err = err.cause
    return None


def root_details(err: ErrorCode) -> str:
    while err.cause is not None:
        err = err.cause
    return err.details
