"""The tag error catalogue (``TAG.NNNN``), raised by patterns, the registry and the service."""

from __future__ import annotations


class TagCodes:
    """Errors of the tag framework; all permanent (the same request fails the same way).

    User tags reuse ``INVALID`` and ``DUPLICATE``; ``details`` says which kind of tag it was.
    """

    INVALID = ("TAG.1001", "Invalid system tag")
    UNKNOWN = ("TAG.1002", "Unknown system tag")
    PERMISSION_DENIED = ("TAG.1003", "Permission denied for system tag")
    DUPLICATE = ("TAG.1004", "Duplicate system tag")
    NOT_FOUND = ("TAG.1005", "Tag not found")
