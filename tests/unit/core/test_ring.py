from __future__ import annotations

import uuid

from mgmt.core.ring import assign_partitions, owned_by, partition_of

P = 64


def test_partition_of_is_stable_and_in_range() -> None:
    ids = [str(uuid.uuid4()) for _ in range(2000)]
    parts = [partition_of(i, P) for i in ids]
    assert all(0 <= p < P for p in parts)
    assert parts == [partition_of(i, P) for i in ids]
    assert partition_of("fixed-uuid", P) == partition_of("fixed-uuid", P)
    assert len(set(parts)) == P, "2,000 UUIDs should touch every partition"


def test_assignment_covers_every_partition_deterministically() -> None:
    a = assign_partitions(["n1", "n2", "n3"], P)
    assert set(a) == set(range(P))
    assert set(a.values()) == {"n1", "n2", "n3"}
    assert a == assign_partitions(["n3", "n1", "n2"], P)
    assert assign_partitions([], P) == {}


def test_a_join_moves_about_p_over_n() -> None:
    before = assign_partitions(["n1", "n2", "n3"], P)
    after = assign_partitions(["n1", "n2", "n3", "n4"], P)
    moved = [p for p in range(P) if before[p] != after[p]]
    assert all(after[p] == "n4" for p in moved), "only the joiner gains partitions"
    assert 0 < len(moved) <= 2 * P // 4


def test_a_leave_moves_only_the_leavers_partitions() -> None:
    before = assign_partitions(["n1", "n2", "n3"], P)
    after = assign_partitions(["n1", "n3"], P)
    moved = {p for p in range(P) if before[p] != after[p]}
    assert moved == {p for p, n in before.items() if n == "n2"}
    assert owned_by("n2", ["n1", "n3"], P) == set()
