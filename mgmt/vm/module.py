"""The VM service module: VM instances, their state machine and flows, the deletion
policy's global configs and the quotas ``vm.num``, ``vm.cpuNum`` and ``vm.memorySize``
(``vm.totalNum`` is the resource type's)."""

from __future__ import annotations

from mgmt.core.module import ServiceModule
from mgmt.vm.config import HOSTNAME, VM_CONFIGS
from mgmt.vm.messages import API_MESSAGES
from mgmt.vm.resources import VM_CPU, VM_INSTANCE, VM_MEMORY, VM_NIC, VM_NUM
from mgmt.vm.service import VmService

MODULE = ServiceModule(
    "vm",
    apis=API_MESSAGES,
    resources=(VM_INSTANCE, VM_NIC),
    service=VmService,
    quotas={q.name: q.default for q in (VM_NUM, VM_CPU, VM_MEMORY)},
    global_configs=VM_CONFIGS,
    tag_patterns=(HOSTNAME,),
)
