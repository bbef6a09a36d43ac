"""Error codes of the network service, with their HTTP statuses (``ServiceModule``)."""

from __future__ import annotations


class NetworkCodes:
    NO_FREE_IP = ("NETWORK.1001", "No free IP address")
    IP_TAKEN = ("NETWORK.1002", "IP address already in use")
    IP_OUTSIDE = ("NETWORK.1003", "IP address outside the L3 network's ranges")
    RANGE_OVERLAP = ("NETWORK.1004", "IP range overlaps another")
    NO_FREE_VNI = ("NETWORK.1005", "No free VNI")
    VNI_TAKEN = ("NETWORK.1006", "VNI already in use")
    INVALID = ("NETWORK.1007", "Invalid network definition")


#: an exhausted pool or a taken value is a conflict with shared state (as a full host's
#: COUNTER.1001), not the caller's own limit (429)
STATUSES = {
    NetworkCodes.NO_FREE_IP[0]: 409,
    NetworkCodes.IP_TAKEN[0]: 409,
    NetworkCodes.IP_OUTSIDE[0]: 400,
    NetworkCodes.RANGE_OVERLAP[0]: 409,
    NetworkCodes.NO_FREE_VNI[0]: 409,
    NetworkCodes.VNI_TAKEN[0]: 409,
    NetworkCodes.INVALID[0]: 400,
}
