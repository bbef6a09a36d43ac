"""The VM service module: VM instances, their state machine and flows, the deletion
policy's global configs, the quotas ``vm.num``, ``vm.cpuNum`` and ``vm.memorySize``
(``vm.totalNum`` is the resource type's), the VM state sync's config and its plugins (the
host handshake's ``reconcile-vms``, the disconnect hook, the cascades to VMs)."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.core.module import PluginParts, ServiceModule
from mgmt.core.plugins import Plugin
from mgmt.vm.cascade import VmCascadePlugin
from mgmt.vm.config import HOSTNAME, VM_CONFIGS
from mgmt.vm.messages import API_MESSAGES
from mgmt.vm.resources import VM_CPU, VM_INSTANCE, VM_MEMORY, VM_NIC, VM_NUM
from mgmt.vm.service import VmService
from mgmt.vm.sync import SYNC_INTERVAL, VmSyncPlugin


def _plugins(parts: PluginParts) -> Sequence[Plugin]:
    return (VmSyncPlugin(parts), VmCascadePlugin(parts))


MODULE = ServiceModule(
    "vm",
    apis=API_MESSAGES,
    resources=(VM_INSTANCE, VM_NIC),
    service=VmService,
    quotas={q.name: q.default for q in (VM_NUM, VM_CPU, VM_MEMORY)},
    global_configs=(*VM_CONFIGS, SYNC_INTERVAL),
    plugins=_plugins,
    tag_patterns=(HOSTNAME,),
)
