"""Volume and snapshot commands on a simulated host: volumes and snapshots are records
in the host's memory (no bits), plugged into the host's VMs. Pure state, no I/O; faults
are the host's, injected per command like every other command."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from agent.protocol import (
    AgentCommand,
    AgentReply,
    AttachVolume,
    AttachVolumeReply,
    CreateSnapshot,
    CreateSnapshotReply,
    CreateVolume,
    CreateVolumeReply,
    DeleteSnapshot,
    DeleteSnapshotReply,
    DeleteVolume,
    DeleteVolumeReply,
    DetachVolume,
    DetachVolumeReply,
    ResizeVolume,
    ResizeVolumeReply,
    RevertSnapshot,
    RevertSnapshotReply,
    UploadVolume,
    UploadVolumeReply,
)
from agent.sim.hosts import SimHost, SimSnapshot, SimVolume, VmError


def _volume(host: SimHost, uuid: str) -> SimVolume:
    found = host.volumes.get(uuid)
    if found is None:
        raise VmError("VOLUME_NOT_FOUND", f"volume {uuid} is not on host {host.uuid}")
    return found


def _create(host: SimHost, cmd: CreateVolume) -> AgentReply:
    path = f"/{cmd.primaryStorageUuid}/data/{cmd.volumeUuid}.{cmd.format}"
    vol = host.volumes.setdefault(cmd.volumeUuid, SimVolume(cmd.volumeUuid, cmd.size, path))
    return CreateVolumeReply(installPath=vol.path, actualSize=0)


def _delete(host: SimHost, cmd: DeleteVolume) -> AgentReply:
    host.volumes.pop(cmd.volumeUuid, None)
    for uuid in [s.uuid for s in host.snapshots.values() if s.volume == cmd.volumeUuid]:
        del host.snapshots[uuid]
    return DeleteVolumeReply()


def _attach(host: SimHost, cmd: AttachVolume) -> AgentReply:
    if cmd.vmUuid not in host.vms:
        raise VmError("VM_NOT_FOUND", f"VM {cmd.vmUuid} is not on host {host.uuid}")
    host.plugged[cmd.volumeUuid] = cmd.vmUuid
    return AttachVolumeReply()


def _detach(host: SimHost, cmd: DetachVolume) -> AgentReply:
    if host.plugged.get(cmd.volumeUuid) == cmd.vmUuid:
        del host.plugged[cmd.volumeUuid]
    return DetachVolumeReply()


def _resize(host: SimHost, cmd: ResizeVolume) -> AgentReply:
    vol = _volume(host, cmd.volumeUuid)
    vol.size = max(vol.size, cmd.size)
    return ResizeVolumeReply(size=vol.size)


def _snapshot(host: SimHost, cmd: CreateSnapshot) -> AgentReply:
    vol = host.volumes.get(cmd.volumeUuid)
    size = vol.size if vol is not None else 0  # a root volume: the VM's disk, not recorded
    path = f"/snapshots/{cmd.volumeUuid}/{cmd.snapshotUuid}.qcow2"
    snap = host.snapshots.setdefault(
        cmd.snapshotUuid, SimSnapshot(cmd.snapshotUuid, cmd.volumeUuid, size, path)
    )
    return CreateSnapshotReply(installPath=snap.path, size=snap.size)


def _delete_snapshot(host: SimHost, cmd: DeleteSnapshot) -> AgentReply:
    host.snapshots.pop(cmd.snapshotUuid, None)
    return DeleteSnapshotReply()


def _revert(host: SimHost, cmd: RevertSnapshot) -> AgentReply:
    snap = host.snapshots.get(cmd.snapshotUuid)
    if snap is None or snap.volume != cmd.volumeUuid:
        raise VmError("SNAPSHOT_NOT_FOUND", f"snapshot {cmd.snapshotUuid} is not here")
    vol = host.volumes.get(cmd.volumeUuid)
    if vol is not None:
        vol.size = snap.size or vol.size
    return RevertSnapshotReply(size=snap.size)


def _upload(host: SimHost, cmd: UploadVolume) -> AgentReply:
    """The copy is not kept (a backup storage deleting an unknown image succeeds)."""
    if cmd.snapshotUuid and cmd.snapshotUuid not in host.snapshots:
        raise VmError("SNAPSHOT_NOT_FOUND", f"snapshot {cmd.snapshotUuid} is not here")
    digest = hashlib.md5(f"{cmd.volumeUuid}/{cmd.snapshotUuid}/{cmd.size}".encode()).hexdigest()
    return UploadVolumeReply(
        installPath=cmd.installPath, size=cmd.size, actualSize=cmd.size, md5Sum=digest
    )


VOLUME_HANDLERS: dict[type[AgentCommand], Callable[[SimHost, AgentCommand], AgentReply]] = {
    CreateVolume: _create,  # type: ignore[dict-item]
    DeleteVolume: _delete,  # type: ignore[dict-item]
    AttachVolume: _attach,  # type: ignore[dict-item]
    DetachVolume: _detach,  # type: ignore[dict-item]
    ResizeVolume: _resize,  # type: ignore[dict-item]
    CreateSnapshot: _snapshot,  # type: ignore[dict-item]
    DeleteSnapshot: _delete_snapshot,  # type: ignore[dict-item]
    RevertSnapshot: _revert,  # type: ignore[dict-item]
    UploadVolume: _upload,  # type: ignore[dict-item]
}
