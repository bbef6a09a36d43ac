"""The core's own service modules: the tag, sharing, global-config, counter and GC-queue APIs
(frameworks that every service's resources use, listed in the composition root like any
service)."""

from __future__ import annotations

from mgmt.core.counters import API_MESSAGES as COUNTER_APIS
from mgmt.core.counters import CounterChecker
from mgmt.core.counters import readables as counter_readables
from mgmt.core.flow.api import gc_readable
from mgmt.core.gconfig.api import UpdateGlobalConfigValue
from mgmt.core.gconfig.api import readables as gconfig_readables
from mgmt.core.module import NodeParts, ServiceModule
from mgmt.core.retention import FlowPurger
from mgmt.core.sharing import API_MESSAGES as SHARING_APIS
from mgmt.core.sharing import SharingService
from mgmt.core.sharing import readables as sharing_readables
from mgmt.core.tags.api import API_MESSAGES as TAG_APIS
from mgmt.core.tags.api import TagApiService
from mgmt.core.tags.api import readables as tag_readables


def _tag_api(parts: NodeParts) -> TagApiService:
    return TagApiService(parts.db, parts.tags, parts.owners)


def _sharing(parts: NodeParts) -> SharingService:
    return SharingService(parts.db, parts.owners)


TAGS = ServiceModule(
    "tags", apis=TAG_APIS, service=_tag_api, reads=lambda parts: tag_readables(parts.tags)
)
SHARING = ServiceModule(
    "sharing", apis=SHARING_APIS, service=_sharing, reads=lambda parts: sharing_readables()
)
#: the node's own config service handles the writes
GLOBAL_CONFIG = ServiceModule(
    "global-config",
    apis=(UpdateGlobalConfigValue,),
    service=lambda parts: parts.gconfig,
    reads=lambda parts: gconfig_readables(),
)

#: the node's counter service handles recalculation; its checker runs per owned partition
COUNTERS = ServiceModule(
    "counters",
    apis=COUNTER_APIS,
    service=lambda parts: parts.counters,
    listeners=lambda parts: [
        CounterChecker(parts.db, parts.counters, interval=parts.settings.counter_check_interval)
    ],
    reads=lambda parts: counter_readables(),
)

#: the GC queue of failed rollbacks and clean-ups, readable by admins; the purger of what
#: finished runs leave behind, per owned partition
FLOWS = ServiceModule(
    "flows",
    reads=lambda parts: [gc_readable()],
    listeners=lambda parts: [
        FlowPurger(
            parts.db,
            retention=parts.settings.flow_retention,
            interval=parts.settings.flow_purge_interval,
        )
    ],
)
