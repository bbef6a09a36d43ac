"""Cascade framework: delete a resource and everything that depends on it, in order."""

from mgmt.core.cascade.flow import CascadeCodes, CascadeCtx, CascadeDeleter, cascade_flow
from mgmt.core.cascade.graph import (
    CASCADE_OBSERVERS,
    CASCADE_RESOURCES,
    CascadeGraph,
    CascadeObserver,
    CascadeResource,
    DeleteMode,
)

__all__ = [
    "CASCADE_OBSERVERS",
    "CASCADE_RESOURCES",
    "CascadeCodes",
    "CascadeCtx",
    "CascadeDeleter",
    "CascadeGraph",
    "CascadeObserver",
    "CascadeResource",
    "DeleteMode",
    "cascade_flow",
]
