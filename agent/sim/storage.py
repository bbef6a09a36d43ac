"""Simulated storage: primary storage mounted on simulated hosts, and ImageStore backup
storages that download images for real (streamed over HTTP to measure size and md5; no
copy is kept) and report their progress.

A backup storage is served under ``/sim/backup-storage/{uuid}`` with the same fault
injection as a host (``SimHost``'s faults, by command and path); a mount is a command of
the host that mounts it (``/sim/hosts/{hostUuid}/primary-storage/mount``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from ipaddress import ip_address
from urllib.parse import urlsplit

import httpx

from agent.protocol import (
    AgentReply,
    ConnectBackupStorage,
    DeleteImageBits,
    DownloadImage,
    DownloadImageReply,
    DownloadProgress,
    DownloadProgressReply,
    MountPrimaryStorage,
    StorageCapacityReply,
    UnmountPrimaryStorage,
)
from agent.sim.hosts import SimHost

CHUNK = 64 << 10


@dataclass
class Download:
    done: int = 0
    total: int = -1


@dataclass
class SimImage:
    uuid: str
    install_path: str
    size: int
    md5: str


@dataclass
class SimBackupStorage(SimHost):
    """A backup storage: a SimHost for its faults and crash state, plus its images."""

    total_bytes: int = 0
    images: dict[str, SimImage] = field(default_factory=dict)
    downloads: dict[str, Download] = field(default_factory=dict)

    @property
    def used(self) -> int:
        return sum(i.size for i in self.images.values())


def mount(host: SimHost, cmd: MountPrimaryStorage, size: int) -> AgentReply:
    host.mounts[cmd.primaryStorageUuid] = size
    return StorageCapacityReply(totalCapacity=size, availableCapacity=size)


def unmount(host: SimHost, cmd: UnmountPrimaryStorage) -> AgentReply:
    host.mounts.pop(cmd.primaryStorageUuid, None)
    return AgentReply()


def connect(store: SimBackupStorage, cmd: ConnectBackupStorage) -> AgentReply:
    if not cmd.url.startswith("/"):
        return StorageCapacityReply(
            success=False, error=f"url {cmd.url!r} is not an absolute path", errorCode="BAD_URL"
        )
    return StorageCapacityReply(
        totalCapacity=store.total_bytes, availableCapacity=store.total_bytes - store.used
    )


def progress(store: SimBackupStorage, cmd: DownloadProgress) -> AgentReply:
    if cmd.imageUuid in store.images:
        size = store.images[cmd.imageUuid].size
        return DownloadProgressReply(
            imageUuid=cmd.imageUuid, downloadedBytes=size, totalBytes=size, percent=100
        )
    d = store.downloads.get(cmd.imageUuid, Download())
    percent = min(99, d.done * 100 // d.total) if d.total > 0 else 0
    return DownloadProgressReply(
        imageUuid=cmd.imageUuid, downloadedBytes=d.done, totalBytes=d.total, percent=percent
    )


def delete_image(store: SimBackupStorage, cmd: DeleteImageBits) -> AgentReply:
    store.images.pop(cmd.imageUuid, None)
    store.downloads.pop(cmd.imageUuid, None)
    return AgentReply()


def _loopback_only(url: str) -> str | None:
    """The simulator fetches from this machine only (tests serve images on 127.0.0.1)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"url {url!r}: only http(s) URLs are downloaded"
    host = parts.hostname
    try:
        loopback = host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return f"url {url!r}: the simulator downloads from loopback addresses only"
    return None


async def download(
    store: SimBackupStorage, cmd: DownloadImage, http: httpx.AsyncClient
) -> AgentReply:
    known = store.images.get(cmd.imageUuid)
    if known is not None:  # a second task for one image: the bits are there already
        return _done(known)
    refused = _loopback_only(cmd.url)
    if refused is not None:
        return DownloadImageReply(success=False, error=refused, errorCode="BAD_URL")
    state = store.downloads.setdefault(cmd.imageUuid, Download())
    digest = hashlib.md5(usedforsecurity=False)
    try:
        async with http.stream("GET", cmd.url, follow_redirects=True) as resp:
            if resp.status_code >= 400:
                return DownloadImageReply(
                    success=False,
                    error=f"GET {cmd.url}: HTTP {resp.status_code} {resp.reason_phrase}",
                    errorCode="HTTP_ERROR",
                    httpStatus=resp.status_code,
                )
            length = resp.headers.get("content-length")
            state.total = int(length) if length and length.isdigit() else -1
            async for chunk in resp.aiter_bytes(CHUNK):
                digest.update(chunk)
                state.done += len(chunk)
                if store.total_bytes - store.used < state.done:
                    return DownloadImageReply(
                        success=False,
                        error=f"backup storage {store.uuid} is full",
                        errorCode="CAPACITY",
                    )
    except httpx.HTTPError as exc:
        return DownloadImageReply(
            success=False, error=f"GET {cmd.url}: {type(exc).__name__}: {exc}", errorCode="HTTP"
        )
    finally:
        store.downloads.pop(cmd.imageUuid, None)
    image = SimImage(cmd.imageUuid, cmd.installPath, state.done, digest.hexdigest())
    store.images[cmd.imageUuid] = image
    return _done(image)


def _done(image: SimImage) -> DownloadImageReply:
    return DownloadImageReply(
        installPath=image.install_path, size=image.size, actualSize=image.size, md5Sum=image.md5
    )
