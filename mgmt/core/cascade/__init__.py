"""Cascade framework: delete a resource and everything that depends on it, in order."""

from mgmt.core.cascade.flow import CascadeCodes, CascadeCtx, CascadeDeleter, cascade_flow
from mgmt.core.cascade.graph import (
    CASCADE_OBSERVERS,
    CASCADE_RELEASES,
    CASCADE_RESOURCES,
    CascadeGraph,
    CascadeObserver,
    CascadeRelease,
    CascadeResource,
    DeleteMode,
    Release,
)

__all__ = [
    "CASCADE_OBSERVERS",
    "CASCADE_RELEASES",
    "CASCADE_RESOURCES",
    "CascadeCodes",
    "CascadeCtx",
    "CascadeDeleter",
    "CascadeGraph",
    "CascadeObserver",
    "CascadeRelease",
    "CascadeResource",
    "DeleteMode",
    "Release",
    "cascade_flow",
]
