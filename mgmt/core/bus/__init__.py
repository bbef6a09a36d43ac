"""The message bus: typed messages routed by resource UUID to partitions, over a transport.

``Bus`` is what services and frontends use (send, call, publish). ``PartitionConsumer`` runs
handlers for the partitions a node owns, one signature at a time. Transports: RabbitMQ
(``rabbit``) in a cluster, in-process (``inproc``) in the all-in-one; both keep the same
contract (tests/contract runs one suite against both).
"""

from mgmt.core.bus.bus import Bus, HandlerContext, current_context
from mgmt.core.bus.dispatch import HandlerTable, PartitionConsumer
from mgmt.core.bus.envelope import Delivery, Envelope
from mgmt.core.bus.transport import Consumer, Transport

__all__ = [
    "Bus",
    "Consumer",
    "Delivery",
    "Envelope",
    "HandlerContext",
    "HandlerTable",
    "PartitionConsumer",
    "Transport",
    "current_context",
]
