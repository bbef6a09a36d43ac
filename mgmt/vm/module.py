"""The VM service module: VM instances, their state machine and flows, and the quotas
``vm.cpuNum`` and ``vm.memorySize`` (``vm.num`` is the resource type's), the VM state
sync's config and its plugin (the host handshake's ``reconcile-vms``, the disconnect hook)."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.core.module import PluginParts, ServiceModule
from mgmt.core.plugins import Plugin
from mgmt.vm.cascade import VmCascadePlugin
from mgmt.vm.messages import API_MESSAGES
from mgmt.vm.resources import VM_CPU, VM_INSTANCE, VM_MEMORY, VM_NIC
from mgmt.vm.service import VmService
from mgmt.vm.sync import SYNC_INTERVAL, VmSyncPlugin


def _plugins(parts: PluginParts) -> Sequence[Plugin]:
    return (VmSyncPlugin(parts), VmCascadePlugin(parts))


MODULE = ServiceModule(
    "vm",
    apis=API_MESSAGES,
    resources=(VM_INSTANCE, VM_NIC),
    service=VmService,
    quotas={VM_CPU.name: VM_CPU.default, VM_MEMORY.name: VM_MEMORY.default},
    global_configs=(SYNC_INTERVAL,),
    plugins=_plugins,
)
