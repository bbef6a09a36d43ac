"""Resources: what every resource type shares, starting with the one create path.

``insert_or_get`` is how every create makes its row: the UUID is claimed in the
``resource_uuid`` table (one UUID, one resource, across every type) in the same transaction
that inserts the row and consumes the quota, so a create either owns its UUID or changes
nothing.
"""

from mgmt.core.resource.create import insert_or_get
from mgmt.core.resource.declaration import (
    Parent,
    ResourceColumns,
    ResourceType,
    ResourceTypes,
    column_name,
)
from mgmt.core.resource.uuids import (
    ResourceUuidRow,
    UuidClaim,
    canonical_uuid,
    claim,
    forget,
    holder_of,
    uuid_taken,
)

__all__ = [
    "Parent",
    "ResourceColumns",
    "ResourceType",
    "ResourceTypes",
    "ResourceUuidRow",
    "UuidClaim",
    "canonical_uuid",
    "claim",
    "column_name",
    "forget",
    "holder_of",
    "insert_or_get",
    "uuid_taken",
]
