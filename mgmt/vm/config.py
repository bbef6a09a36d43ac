"""The VM service's global configs (the deletion policy, the expunge period, the stop's
grace period) and system
tags (``hostname::{hostname}``)."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.core.gconfig import GlobalConfigDef
from mgmt.core.tags import HostnameToken, SystemTag

DIRECT, DELAY, NEVER = "Direct", "Delay", "Never"

DELETION_POLICY = GlobalConfigDef(
    "vm",
    "deletionPolicy",
    str,
    DELAY,
    "What DELETE does to a VM: Direct (destroyed and removed at once), Delay (Destroyed, "
    "recoverable until vm.expungePeriod has passed, then expunged) or Never (Destroyed "
    "until an explicit expunge).",
    choices=(DIRECT, DELAY, NEVER),
)
EXPUNGE_PERIOD = GlobalConfigDef(
    "vm",
    "expungePeriod",
    int,
    7 * 24 * 3600,
    "Seconds a VM destroyed under the Delay policy stays recoverable before it is expunged.",
    ge=1,
    le=10 * 365 * 24 * 3600,
)
EXPUNGE_INTERVAL = GlobalConfigDef(
    "vm",
    "expungeInterval",
    int,
    60,
    "Seconds between two rounds of the expunge tracker on each node.",
    ge=1,
    le=24 * 3600,
)
STOP_GRACE = GlobalConfigDef(
    "vm",
    "stopGracePeriod",
    int,
    60,
    "Seconds a graceful stop waits for the guest to shut down before it powers it off.",
    ge=0,
    le=3600,
)
VM_CONFIGS = (DELETION_POLICY, EXPUNGE_PERIOD, EXPUNGE_INTERVAL, STOP_GRACE)

HOSTNAME = SystemTag(
    "hostname::{hostname}",
    resource_types=("VmInstance",),
    tokens={"hostname": HostnameToken},
    unique=True,
    description="The VM's host name (RFC 1123), given to the hypervisor when it starts.",
)


def hostname_of(tags: Sequence[str]) -> str:
    """The host name a create's ``hostname::`` system tag names ("" when none)."""
    return next((HOSTNAME.parse(t)["hostname"] for t in tags if HOSTNAME.matches(t)), "")
