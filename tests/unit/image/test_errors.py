"""Which failed downloads are the client's URL (400) and which are the agent's (503)."""

from __future__ import annotations

from mgmt.core.api import http_status
from mgmt.core.errors import Codes, error
from mgmt.image.errors import STATUSES, URL_ERRORS, ImageCodes, agent_code, root_details


def test_the_agent_code_is_found_down_the_cause_chain() -> None:
    agent = error(Codes.AGENT_ERROR, "GET http://x: HTTP 404 Not Found", agentCode="HTTP_ERROR")
    step = error(Codes.AGENT_ERROR, "DownloadImage on host bs failed").caused(agent)
    assert agent_code(step) == "HTTP_ERROR" in URL_ERRORS
    assert root_details(step) == "GET http://x: HTTP 404 Not Found"
    assert agent_code(error(Codes.AGENT_ERROR, "no code")) is None
    assert agent_code(None) is None


def test_a_url_failure_is_a_400_and_wins_over_the_flow_that_wraps_it() -> None:
    url = error(ImageCodes.URL_FAILED, "url: …", field="url")
    flow = error(("FLOW.1001", "Flow failed"), "AddImage failed").caused(url)
    assert http_status(flow, STATUSES) == 400
    injected = error(Codes.AGENT_ERROR, "injected", agentCode="INJECTED")
    assert http_status(error(("FLOW.1001", "Flow failed"), "x").caused(injected), STATUSES) == 503
