"""Diagnostics service: echo, sequence recording and agent round trips through the bus.

Operators use it to check a cluster end to end (``zcloud bench``, health probes); the test
suite uses it to prove routing, ordering, failover and callbacks on real processes.
Public surface: its messages.
"""

from mgmt.diag.messages import (
    CreateDiagResource,
    CreateDiagStateful,
    DeleteDiagResource,
    DeleteDiagResourceReply,
    DiagResourceReply,
    DiagStateOperationReply,
    Echo,
    EchoReply,
    PingAgent,
    PingAgentReply,
    RecordSequence,
    RecordSequenceReply,
    RunDiagAllocate,
    RunDiagAllocateReply,
    RunDiagFlow,
    RunDiagFlowReply,
    RunDiagReserve,
    RunDiagReserveReply,
    RunDiagStateOperation,
    RunDiagVmFlow,
    RunDiagVmFlowReply,
)

__all__ = [
    "CreateDiagResource",
    "CreateDiagStateful",
    "DeleteDiagResource",
    "DeleteDiagResourceReply",
    "DiagResourceReply",
    "DiagStateOperationReply",
    "Echo",
    "EchoReply",
    "PingAgent",
    "PingAgentReply",
    "RecordSequence",
    "RecordSequenceReply",
    "RunDiagAllocate",
    "RunDiagAllocateReply",
    "RunDiagFlow",
    "RunDiagFlowReply",
    "RunDiagReserve",
    "RunDiagReserveReply",
    "RunDiagStateOperation",
    "RunDiagVmFlow",
    "RunDiagVmFlowReply",
]
