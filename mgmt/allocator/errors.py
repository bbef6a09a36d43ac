"""The allocator's error codes and their HTTP statuses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mgmt.core.errors import ErrorCode, error


class AllocatorCodes:
    #: no host passes every filter (or every one that did was taken concurrently): 409,
    #: like a full counter, since an operator resolves it by adding or freeing capacity
    NO_HOST = ("HOST_ALLOCATION.1001", "No host can take the VM")
    #: the spec names a strategy nobody registered
    NO_STRATEGY = ("HOST_ALLOCATION.1002", "No such host allocator strategy")
    #: an allocation's reservation id was released: it is not allocated again
    RELEASED = ("HOST_ALLOCATION.1003", "Allocation already released")


STATUSES: Mapping[str, int] = {
    AllocatorCodes.NO_HOST[0]: 409,
    AllocatorCodes.NO_STRATEGY[0]: 400,
    AllocatorCodes.RELEASED[0]: 409,
}


def no_host(rejections: Sequence[tuple[str, str, str, str]], considered: int) -> ErrorCode:
    """``HOST_ALLOCATION.1001`` naming, per filter, how many hosts it refused and why.

    ``rejections`` are ``(host uuid, host name, filter, reason)``; ``extra.rejected`` lists
    them all, ``extra.byFilter`` counts them per filter."""
    by_filter: dict[str, list[str]] = {}
    for _, name, flt, reason in rejections:
        by_filter.setdefault(flt, []).append(f"{name}: {reason}")
    if not considered:
        summary = "no host is in the zones, clusters or hosts asked for"
    else:
        summary = "; ".join(
            f"{flt} refused {len(why)} ({', '.join(why[:3])}{', …' if len(why) > 3 else ''})"
            for flt, why in by_filter.items()
        )
    return error(
        AllocatorCodes.NO_HOST,
        f"none of {considered} hosts can take the VM: {summary}",
        considered=considered,
        byFilter={flt: len(why) for flt, why in by_filter.items()},
        rejected=[
            {"hostUuid": u, "hostName": n, "filter": f, "reason": r} for u, n, f, r in rejections
        ],
    )
