"""The simulator agent: one process playing many hypervisor hosts over the real protocol.

A product feature (scale tests, demos, fault drills), not a mock: it speaks exactly the agent
protocol, keeps exact capacity accounting, and takes faults per host and per command.
"""

from agent.sim.settings import SimSettings

__all__ = ["SimSettings"]
