"""One fixture, two transports: every contract test runs on the in-process bus and RabbitMQ."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from mgmt.bench.env import delete_prefix
from mgmt.core.bus import Bus, Transport
from mgmt.core.bus.inproc import InprocBroker, InprocTransport
from mgmt.core.bus.rabbit import RabbitTransport
from mgmt.core.metrics import BusMetrics
from tests.helpers.services import ServerUrls

PARTITIONS = 4
MAX_ATTEMPTS = 3


@dataclass
class Transports:
    """Makes transports that share one broker: each plays a separate process."""

    kind: str
    make: Callable[[str], Transport]
    started: list[Transport] = field(default_factory=list)

    async def new(self, node_id: str = "n") -> Transport:
        transport = self.make(node_id)
        await transport.start(lambda env: None)
        self.started.append(transport)
        return transport

    async def bus(self, node_id: str = "n") -> Bus:
        bus = Bus(
            self.make(node_id),
            node_id=node_id,
            partitions=PARTITIONS,
            metrics=BusMetrics(),
            default_timeout=10,
            max_message_bytes=64 * 1024,
        )
        await bus.start()
        self.started.append(bus.transport)
        return bus


@pytest.fixture(params=["inproc", "rabbit"])
async def transports(request: pytest.FixtureRequest) -> AsyncIterator[Transports]:
    if request.param == "inproc":
        broker = InprocBroker(max_attempts=MAX_ATTEMPTS)
        result = Transports("inproc", lambda node: InprocTransport(broker, "c"))
    else:
        # the servers asked for here, not in the signature: the in-process variant needs no
        # broker (and is no integration test); a bus prefix of this test's own, as ``amqp``
        servers: ServerUrls = request.getfixturevalue("servers")
        url, prefix = servers.amqp, f"zt{uuid.uuid4().hex[:10]}"

        def rabbit(node: str) -> Transport:
            return RabbitTransport(
                url, prefix=prefix, partitions=PARTITIONS, max_attempts=MAX_ATTEMPTS, node_id=node
            )

        result = Transports("rabbit", rabbit)
    yield result
    for transport in reversed(result.started):
        await transport.close()
    if request.param == "inproc":
        await broker.close()
    else:
        await delete_prefix(url, prefix)
