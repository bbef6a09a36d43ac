"""Offering service: instance and disk offerings. Public surface: messages, inventories."""

from mgmt.offering.messages import (
    API_MESSAGES,
    CreateDiskOffering,
    CreateInstanceOffering,
    DeleteDiskOffering,
    DeleteInstanceOffering,
    DiskOfferingInventory,
    InstanceOfferingInventory,
    UpdateDiskOffering,
    UpdateInstanceOffering,
)

__all__ = [
    "API_MESSAGES",
    "CreateDiskOffering",
    "CreateInstanceOffering",
    "DeleteDiskOffering",
    "DeleteInstanceOffering",
    "DiskOfferingInventory",
    "InstanceOfferingInventory",
    "UpdateDiskOffering",
    "UpdateInstanceOffering",
]
