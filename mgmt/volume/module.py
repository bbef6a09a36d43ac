"""The volume service module: volumes, their state machine and flows, and the quotas
``volume.data.num`` and ``volume.capacity`` (``snapshot.volume.num`` is the snapshot
type's)."""

from __future__ import annotations

from mgmt.core.module import ServiceModule
from mgmt.volume.messages import API_MESSAGES
from mgmt.volume.plugin import plugins
from mgmt.volume.resources import VOLUME, VOLUME_CAPACITY, VOLUME_DATA_NUM, VOLUME_SNAPSHOT
from mgmt.volume.service import VolumeService

MODULE = ServiceModule(
    "volume",
    apis=API_MESSAGES,
    resources=(VOLUME, VOLUME_SNAPSHOT),
    service=VolumeService,
    plugins=plugins,
    quotas={
        VOLUME_DATA_NUM.name: VOLUME_DATA_NUM.default,
        VOLUME_CAPACITY.name: VOLUME_CAPACITY.default,
    },
)
