"""Error catalogue of global config (``GCONF.NNNN``)."""

from __future__ import annotations


class GConfCodes:
    """Codes the global config framework fails with; both are permanent."""

    INVALID_VALUE = ("GCONF.1001", "Invalid global config value")
    UNKNOWN_CONFIG = ("GCONF.1002", "Unknown global config")
