"""The offering service module: instance and disk offerings (kit only, no handler code)."""

from __future__ import annotations

from mgmt.core.module import ServiceModule
from mgmt.offering.messages import API_MESSAGES
from mgmt.offering.resources import DISK_OFFERING, INSTANCE_OFFERING

MODULE = ServiceModule("offering", apis=API_MESSAGES, resources=(INSTANCE_OFFERING, DISK_OFFERING))
