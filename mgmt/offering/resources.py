"""Offerings, declared: reads, queries, sharing, cascade with their account and the
default create/update/delete handlers all come from the kit."""

from __future__ import annotations

from mgmt.core.resource import ResourceType
from mgmt.offering.messages import DiskOfferingInventory, InstanceOfferingInventory
from mgmt.offering.models import DiskOfferingRow, InstanceOfferingRow

INSTANCE_OFFERING = ResourceType(
    "InstanceOffering", "instance-offerings", InstanceOfferingRow, InstanceOfferingInventory
)
DISK_OFFERING = ResourceType(
    "DiskOffering", "disk-offerings", DiskOfferingRow, DiskOfferingInventory
)
