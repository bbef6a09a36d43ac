"""The zone service's in-tree plugin: its cascade declarations."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.core.cascade import CASCADE_RESOURCES
from mgmt.core.plugins import Extension
from mgmt.zone.cascade import declarations


class ZonePlugin:
    name = "zone"

    def extensions(self) -> Sequence[Extension]:
        return [Extension(CASCADE_RESOURCES, d, type=d.type_name) for d in declarations()]
