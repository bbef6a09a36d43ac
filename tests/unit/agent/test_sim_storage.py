"""The simulator's storage (no sockets): mounts, an ImageStore's connect, a download's
size, md5, progress and failures (an httpx mock transport serves the URL)."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from agent.protocol import (
    ConnectBackupStorage,
    DeleteImageBits,
    DownloadImage,
    DownloadProgress,
    MountPrimaryStorage,
    UnmountPrimaryStorage,
)
from agent.sim import storage
from agent.sim.hosts import SimHost

BODY = bytes(range(256)) * 1000


def _served(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/img":
        return httpx.Response(200, content=BODY, headers={"Content-Length": str(len(BODY))})
    return httpx.Response(404, text="nope")


def _download(url: str, image: str = "i1") -> DownloadImage:
    return DownloadImage(
        backupStorageUuid="bs", imageUuid=image, url=url, installPath=f"/bs/{image}.qcow2"
    )


@pytest.fixture
def store() -> storage.SimBackupStorage:
    return storage.SimBackupStorage("bs", 0, 0, total_bytes=1 << 30)


async def test_a_download_measures_size_and_md5_and_keeps_no_copy(
    store: storage.SimBackupStorage,
) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_served)) as http:
        reply = await storage.download(store, _download("http://127.0.0.1:1/img"), http)
        assert reply.success, reply
        assert reply.model_dump()["size"] == len(BODY)
        assert reply.model_dump()["md5Sum"] == hashlib.md5(BODY, usedforsecurity=False).hexdigest()
        # a second task for the same image answers from what it has (no second fetch)
        again = await storage.download(store, _download("http://127.0.0.1:1/img"), http)
        assert again == reply
    done = storage.progress(store, DownloadProgress(backupStorageUuid="bs", imageUuid="i1"))
    assert done.model_dump()["percent"] == 100
    connected = storage.connect(
        store, ConnectBackupStorage(backupStorageUuid="bs", url="/bs", hostname="127.0.0.1")
    )
    assert connected.model_dump()["availableCapacity"] == (1 << 30) - len(BODY)
    storage.delete_image(
        store, DeleteImageBits(backupStorageUuid="bs", imageUuid="i1", installPath="/bs/i1")
    )
    assert store.images == {}


async def test_a_download_fails_with_the_http_status_a_refusal_or_a_full_store(
    store: storage.SimBackupStorage,
) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_served)) as http:
        missing = await storage.download(store, _download("http://127.0.0.1:1/gone"), http)
        assert (missing.errorCode, missing.model_dump()["httpStatus"]) == ("HTTP_ERROR", 404)
        assert "HTTP 404" in (missing.error or "")
        far = await storage.download(store, _download("http://192.0.2.1/img"), http)
        assert far.errorCode == "BAD_URL" and "loopback" in (far.error or "")
        ftp = await storage.download(store, _download("ftp://127.0.0.1/img"), http)
        assert ftp.errorCode == "BAD_URL"
        store.total_bytes = 1000
        full = await storage.download(store, _download("http://localhost/img", "i2"), http)
        assert full.errorCode == "CAPACITY"
    assert store.images == {} and store.downloads == {}


def test_a_host_mounts_and_unmounts_a_primary_storage() -> None:
    host = SimHost("h", 4, 1 << 30)
    cmd = MountPrimaryStorage(
        hostUuid="h", primaryStorageUuid="ps", type="NFS", url="127.0.0.1:/e", mountPath="/m"
    )
    assert storage.mount(host, cmd, 5 << 40).model_dump()["totalCapacity"] == 5 << 40
    assert host.mounts == {"ps": 5 << 40}
    storage.unmount(
        host, UnmountPrimaryStorage(hostUuid="h", primaryStorageUuid="ps", mountPath="/m")
    )
    storage.unmount(
        host, UnmountPrimaryStorage(hostUuid="h", primaryStorageUuid="ps", mountPath="/m")
    )
    assert host.mounts == {}


def test_connect_refuses_a_relative_url(store: storage.SimBackupStorage) -> None:
    reply = storage.connect(
        store, ConnectBackupStorage(backupStorageUuid="bs", url="rel", hostname="127.0.0.1")
    )
    assert not reply.success and reply.errorCode == "BAD_URL"
