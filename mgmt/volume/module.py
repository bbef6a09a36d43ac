"""The volume service module: volumes, their state machine and flows, and the quotas
``volume.data.num`` and ``volume.capacity``."""

from __future__ import annotations

from mgmt.core.module import ServiceModule
from mgmt.volume.resources import VOLUME, VOLUME_CAPACITY, VOLUME_DATA_NUM

MODULE = ServiceModule(
    "volume",
    resources=(VOLUME,),
    quotas={
        VOLUME_DATA_NUM.name: VOLUME_DATA_NUM.default,
        VOLUME_CAPACITY.name: VOLUME_CAPACITY.default,
    },
)
