"""The zone service module: its API messages and resource types."""

from __future__ import annotations

from mgmt.core.module import ServiceModule
from mgmt.zone.messages import API_MESSAGES
from mgmt.zone.resources import CLUSTER, ZONE

MODULE = ServiceModule("zone", apis=API_MESSAGES, resources=(ZONE, CLUSTER))
