"""State machines of resources: declared states and operations, 409 for what is not allowed,
and no transitional state left behind however an operation ends.

Declare a ``StateMachine`` (machine.py) over a table with ``StateColumns``; run each
operation with ``StatefulRunner.run`` (runtime.py), or ``begin``/``finish`` it by hand
(transitions.py). The composition root registers the machines' flows in a
``StateRegistry``, the ``StateReleaser`` as a flow end observer and the ``StateSweeper`` as a
partition listener. Guide: docs/frameworks/states.md.
"""

from mgmt.core.states.machine import Operation, StateCodes, StateColumns, StateMachine
from mgmt.core.states.runtime import (
    StatefulOperation,
    StatefulRunner,
    StateRegistry,
    StateReleaser,
    StateSweeper,
)
from mgmt.core.states.transitions import Began, begin, current_state, finish, illegal

__all__ = [
    "Began",
    "Operation",
    "StateCodes",
    "StateColumns",
    "StateMachine",
    "StateRegistry",
    "StateReleaser",
    "StateSweeper",
    "StatefulOperation",
    "StatefulRunner",
    "begin",
    "current_state",
    "finish",
    "illegal",
]
