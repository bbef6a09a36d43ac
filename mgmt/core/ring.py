"""Resource UUID -> partition (fixed hash) and partition -> node (consistent-hash ring).

P is fixed per deployment, so a resource's partition never changes; only the owner of a
partition moves, and a join or leave moves about P/N partitions (ketama, via uhashring).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from uhashring import HashRing


def partition_of(resource_uuid: str, partitions: int) -> int:
    """The partition of a resource: stable across processes, releases and Python runs."""
    return zlib.crc32(resource_uuid.encode()) % partitions


def assign_partitions(nodes: Iterable[str], partitions: int) -> dict[int, str]:
    """Owner of every partition for this set of live nodes (empty set: no owners)."""
    members = sorted(set(nodes))
    if not members:
        return {}
    ring = HashRing(nodes=members, hash_fn="ketama")
    return {p: str(ring.get_node(f"partition-{p}")) for p in range(partitions)}


def owned_by(node: str, nodes: Iterable[str], partitions: int) -> set[int]:
    return {p for p, owner in assign_partitions(nodes, partitions).items() if owner == node}
