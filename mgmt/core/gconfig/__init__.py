"""Global config: named, typed, validated settings with defaults, stored in the database,
changed at runtime through ``UpdateGlobalConfig`` and seen by every node within seconds.

A service declares ``GlobalConfigDef`` constants; the composition root adds them to a
``GlobalConfigRegistry``, builds one ``GlobalConfigService`` and registers its handlers.
"""

from mgmt.core.gconfig.definitions import GlobalConfigDef, GlobalConfigRegistry
from mgmt.core.gconfig.errors import GConfCodes
from mgmt.core.gconfig.messages import (
    GlobalConfigChanged,
    GlobalConfigInventory,
    UpdateGlobalConfig,
    UpdateGlobalConfigReply,
    gconfig_routing_uuid,
)
from mgmt.core.gconfig.models import GlobalConfigRow
from mgmt.core.gconfig.service import GlobalConfigService

__all__ = [
    "GConfCodes",
    "GlobalConfigChanged",
    "GlobalConfigDef",
    "GlobalConfigInventory",
    "GlobalConfigRegistry",
    "GlobalConfigRow",
    "GlobalConfigService",
    "UpdateGlobalConfig",
    "UpdateGlobalConfigReply",
    "gconfig_routing_uuid",
]
