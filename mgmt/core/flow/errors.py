"""Error catalogue of the flow engine."""

from __future__ import annotations


class FlowCodes:
    STEP_FAILED = ("FLOW.1001", "A flow step failed")
    UNKNOWN_RUN = ("FLOW.1002", "Unknown flow run")
    INTERRUPTED = ("FLOW.1003", "Flow interrupted")
    PARENT_FAILED = ("FLOW.1004", "Parent flow failed")
