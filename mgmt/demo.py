"""The all-in-one's demo environment: a small cloud made through the REST API on first start.

``zcloud up`` makes it unless ``--empty``: a zone, a Simulator cluster, hosts, a
LocalStorage and an NFS primary storage (shared by the hosts, so its VMs migrate), an
ImageStore with one image (a raw disk file the all-in-one writes and its
simulator serves, downloaded for real), networks with addresses and offerings. Each piece
is looked up by name first and made only if missing, so a restart, or a start after a
partial bootstrap, ends with one of each. The bootstrap is an ordinary API client: what it
makes is what an admin would make with the CLI.
"""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mgmt.core.logging import get_logger

log = get_logger(__name__)

Made = Mapping[str, str]


@dataclass(frozen=True)
class Piece:
    """One resource of the demo: found at ``collection`` by ``name`` or made at ``create``
    with ``body(made)`` (``made``: the UUIDs of the pieces before it, by key)."""

    key: str
    collection: str
    name: str
    create: str
    body: Callable[[Made], dict[str, Any]]
    #: actions run on it once made: (action, body) — repeated runs are harmless
    then: Callable[[Made], list[tuple[str, dict[str, Any]]]] = lambda made: []
    #: a query field that tells it apart instead of its name (a host: its managementIp)
    match: tuple[str, str] | None = None
    #: actions run on it when it was there already (a host: reconnect, since the
    #: all-in-one's simulator starts empty and must make the host again)
    when_found: tuple[str, ...] = ()


GiB = 1 << 30


def _host(i: int) -> Piece:
    ip = f"127.0.10.{i + 1}"
    return Piece(
        f"host{i}",
        "hosts",
        f"demo-host-{i}",
        "/v1/hosts",
        lambda m: {
            "clusterUuid": m["cluster"],
            "name": f"demo-host-{i}",
            "managementIp": ip,
            "cpuCapacity": 16,
            "memoryCapacity": 64 * GiB,
        },
        match=("managementIp", ip),
        when_found=("reconnect",),
    )


#: the demo image the all-in-one writes into its files directory (``write_demo_image``)
DEMO_IMAGE = "zcloud-demo.raw"
DEMO_IMAGE_BYTES = 8 << 20


def write_demo_image(files_dir: Path) -> Path:
    """A small raw disk image, written once (its bytes never change, so neither does its
    md5): what the demo's image is downloaded from."""
    path = files_dir / DEMO_IMAGE
    if not path.is_file() or path.stat().st_size != DEMO_IMAGE_BYTES:
        files_dir.mkdir(parents=True, exist_ok=True)
        label = b"zcloud demo disk image\n"
        path.write_bytes(label + bytes(DEMO_IMAGE_BYTES - len(label)))
    return path


def pieces(hosts: int, image_url: str) -> list[Piece]:
    """The demo environment, parents first."""
    return [
        Piece("zone", "zones", "demo-zone", "/v1/zones", lambda m: {"name": "demo-zone"}),
        Piece(
            "cluster",
            "clusters",
            "demo-cluster",
            "/v1/clusters",
            lambda m: {
                "name": "demo-cluster",
                "zoneUuid": m["zone"],
                "hypervisorType": "Simulator",
            },
        ),
        *(_host(i) for i in range(1, hosts + 1)),
        Piece(
            "primary_storage",
            "primary-storage",
            "demo-local",
            "/v1/primary-storage/local",
            lambda m: {"name": "demo-local", "zoneUuid": m["zone"], "url": "/var/lib/zcloud"},
            then=lambda m: [("attach-cluster", {"clusterUuid": m["cluster"]})],
        ),
        Piece(  # shared by the hosts: a VM whose root volume is here can migrate
            "nfs",
            "primary-storage",
            "demo-nfs",
            "/v1/primary-storage/nfs",
            lambda m: {"name": "demo-nfs", "zoneUuid": m["zone"], "url": "127.0.0.1:/zcloud/nfs"},
            then=lambda m: [("attach-cluster", {"clusterUuid": m["cluster"]})],
        ),
        Piece(
            "backup_storage",
            "backup-storage",
            "demo-imagestore",
            "/v1/backup-storage/image-store",
            lambda m: {"name": "demo-imagestore", "url": "/zcloud/images", "hostname": "127.0.0.1"},
            then=lambda m: [("attach-zone", {"zoneUuid": m["zone"]})],
        ),
        Piece(
            "image",
            "images",
            "demo-image",
            "/v1/images",
            lambda m: {
                "name": "demo-image",
                "url": image_url,
                "format": "raw",
                "mediaType": "RootVolumeTemplate",
                "platform": "Linux",
                "backupStorageUuids": [m["backup_storage"]],
            },
        ),
        Piece(
            "l2",
            "l2-networks",
            "demo-l2",
            "/v1/l2-networks/no-vlan",
            lambda m: {"name": "demo-l2", "zoneUuid": m["zone"], "physicalInterface": "eth0"},
            then=lambda m: [("attach-cluster", {"clusterUuid": m["cluster"]})],
        ),
        Piece(
            "l3",
            "l3-networks",
            "demo-l3",
            "/v1/l3-networks",
            lambda m: {
                "name": "demo-l3",
                "l2NetworkUuid": m["l2"],
                "category": "Private",
                "dns": ["10.100.0.1"],
            },
        ),
        Piece(
            "range",
            "ip-ranges",
            "demo-range",
            "/v1/ip-ranges/by-cidr",
            lambda m: {
                "name": "demo-range",
                "l3NetworkUuid": m["l3"],
                "networkCidr": "10.100.0.0/24",
            },
        ),
        Piece(
            "instance_offering",
            "instance-offerings",
            "demo-small",
            "/v1/instance-offerings",
            lambda m: {"name": "demo-small", "cpuNum": 1, "memorySize": 1 * GiB},
        ),
        Piece(
            "disk_offering",
            "disk-offerings",
            "demo-10g",
            "/v1/disk-offerings",
            lambda m: {"name": "demo-10g", "diskSize": 10 * GiB},
        ),
    ]


#: how often an action refused because an operation holds the resource is sent again
BUSY_RETRIES = 240


class DemoError(Exception):
    pass


async def bootstrap(api_url: str, token: str, hosts: int, image_url: str) -> dict[str, str]:
    """Make what is missing of the demo environment; the name of each piece by key."""
    headers = {"Authorization": f"Bearer {token}", "Prefer": "wait=120"}
    made: dict[str, str] = {}
    names: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=180) as http:
        for piece in pieces(hosts, image_url):
            field, value = piece.match or ("name", piece.name)
            found = await http.get(f"/v1/{piece.collection}", params={"q": f"{field}={value}"})
            _raise_for(found, piece)
            existing = found.json()["inventories"]
            again: tuple[str, ...] = ()
            if existing:
                uuid = str(existing[0]["uuid"])
                again = piece.when_found
            else:
                job = {"X-Job-UUID": str(uuidlib.uuid4())}
                resp = await http.post(piece.create, json=piece.body(made), headers=job)
                _raise_for(resp, piece)
                uuid = str(resp.json()["inventory"]["uuid"])
                log.info("demo.made", piece=piece.key, name=piece.name, uuid=uuid)
            made[piece.key] = uuid
            names[piece.key] = piece.name
            for action, body in [*((a, {}) for a in again), *piece.then(made)]:
                path = f"/v1/{piece.collection}/{uuid}/actions/{action}"
                _raise_for(await _act(http, path, body), piece)
    return names


async def _act(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    """POST an action; one refused because the resource is mid-operation (a host its owner
    is reconnecting already: the simulator restarted with the all-in-one) is sent again
    once that operation ended."""
    for _ in range(BUSY_RETRIES):
        job = {"X-Job-UUID": str(uuidlib.uuid4())}
        resp = await http.post(path, json=body, headers=job)
        if not _busy(resp):
            return resp
        await asyncio.sleep(0.5)
    return resp


def _busy(resp: httpx.Response) -> bool:
    """A 409 of the state machine allowing nothing now: another operation holds it."""
    if resp.status_code != 409:
        return False
    err = resp.json().get("error") or {}
    return bool(
        err.get("code") == "STATE.1001" and not err.get("extra", {}).get("allowedOperations")
    )


def _raise_for(resp: httpx.Response, piece: Piece) -> None:
    if resp.status_code != 200:
        raise DemoError(f"demo {piece.key} {piece.name}: {resp.status_code} {resp.text[:300]}")


def banner_lines(names: Mapping[str, str]) -> str:
    """What the "is up" banner says of the demo environment."""
    hosts = sorted(v for k, v in names.items() if k.startswith("host"))
    others = [v for k, v in names.items() if not k.startswith("host")]
    return (
        f"  demo       {', '.join(others)}\n"
        f"             {len(hosts)} Simulator hosts: {', '.join(hosts)}\n"
    )
