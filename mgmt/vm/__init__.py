"""VM service: VM instances on hosts — create (allocate a host, NICs and root volume
capacity, start), start, stop, reboot, pause, resume and destroy, each a durable flow of
named steps under the VM state machine. Public surface: its messages and inventory."""

from mgmt.vm.messages import (
    API_MESSAGES,
    ChangeInstanceOffering,
    CreateVmInstance,
    DestroyVmInstance,
    ExpungeVmInstance,
    MigrateVm,
    PauseVmInstance,
    RebootVmInstance,
    RecoverVmInstance,
    ResumeVmInstance,
    StartVmInstance,
    StopVmInstance,
    VmInstanceDeleted,
    VmInstanceInventory,
    VmInstanceReply,
    VmNicInventory,
)

__all__ = [
    "API_MESSAGES",
    "ChangeInstanceOffering",
    "CreateVmInstance",
    "DestroyVmInstance",
    "ExpungeVmInstance",
    "MigrateVm",
    "PauseVmInstance",
    "RebootVmInstance",
    "RecoverVmInstance",
    "ResumeVmInstance",
    "StartVmInstance",
    "StopVmInstance",
    "VmInstanceDeleted",
    "VmInstanceInventory",
    "VmInstanceReply",
    "VmNicInventory",
]
