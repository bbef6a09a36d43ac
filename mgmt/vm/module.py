"""The VM service module: VM instances, their state machine and flows, and the quotas
``vm.cpuNum`` and ``vm.memorySize`` (``vm.num`` is the resource type's)."""

from __future__ import annotations

from mgmt.core.module import ServiceModule
from mgmt.vm.messages import API_MESSAGES
from mgmt.vm.resources import VM_CPU, VM_INSTANCE, VM_MEMORY, VM_NIC
from mgmt.vm.service import VmService

MODULE = ServiceModule(
    "vm",
    apis=API_MESSAGES,
    resources=(VM_INSTANCE, VM_NIC),
    service=VmService,
    quotas={VM_CPU.name: VM_CPU.default, VM_MEMORY.name: VM_MEMORY.default},
)
