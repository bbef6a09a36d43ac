"""Names where the API wants UUIDs, on the command line.

``zcloud StopVmInstance web1`` and ``zcloud CreateVmInstance imageUuid=demo-image …``: a
value of a UUID parameter that is not a UUID is taken for the name of a resource and looked
up with that resource's query (``name=<value>``). The resource is found from the server's
own API document: a path parameter's is the collection its path is under
(``/v1/vm-instances/{uuid}/actions/stop`` → ``QueryVmInstance``), a body field's is the
longest tail of its name that names a queryable resource (``defaultL3NetworkUuid`` →
``L3Network``, ``dataDiskOfferingUuids`` → ``DiskOffering``,
``primaryStorageUuidForRootVolume`` → ``PrimaryStorage``). A name of several resources is
refused before anything is sent; a value that names none is sent as given, and the server
answers for it (a global config's ``uuid`` is its ``category.name``; an unknown name is
the resource's 404).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mgmt.client.errors import UsageError
from mgmt.client.spec import OperationInfo

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
_UUID_FIELD = re.compile(r"^(?P<stem>[a-zA-Z0-9]+?)Uuids?(?:For[A-Z][A-Za-z0-9]*)?$")

#: ``lookup(resource, name)`` → the UUIDs of the resources of that type with that name
Lookup = Callable[[str, str], Sequence[str]]


def queryable(operations: Sequence[OperationInfo]) -> dict[str, str]:
    """Resource name → the collection path its ``Query<Resource>`` reads."""
    return {
        op.name[len("Query") :]: op.path
        for op in operations
        if op.name.startswith("Query") and op.method == "GET"
    }


def resource_of(op: OperationInfo, param: str, resources: Mapping[str, str]) -> str | None:
    """The resource type whose UUID ``param`` of ``op`` holds, if the document tells."""
    if f"{{{param}}}" in op.path:
        collection = op.path.split(f"/{{{param}}}", 1)[0]
        return next((name for name, path in resources.items() if path == collection), None)
    match = _UUID_FIELD.match(param)
    if match is None:
        return None
    stem: str = match["stem"]
    for i, ch in enumerate(stem):
        if i == 0 or ch.isupper():
            candidate = ch.upper() + stem[i + 1 :]
            if candidate in resources:
                return candidate
    return None


def resolve_names(
    op: OperationInfo,
    params: Mapping[str, Any],
    resources: Mapping[str, str],
    lookup: Lookup,
) -> dict[str, Any]:
    """``params`` with each name in a UUID parameter replaced by the UUID it names."""
    out = dict(params)
    for key, value in params.items():
        resource = resource_of(op, key, resources)
        if resource is None:
            continue
        if isinstance(value, str) and not _UUID.match(value):
            out[key] = _one(resource, key, value, lookup)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = [v if _UUID.match(v) else _one(resource, key, v, lookup) for v in value]
    return out


def _one(resource: str, key: str, name: str, lookup: Lookup) -> str:
    found = list(lookup(resource, name))
    if len(found) == 1:
        return found[0]
    if not found:  # not a name, or not one the caller sees: the server tells which
        return name
    raise UsageError(
        f"{key}: {len(found)} {resource} resources are named {name!r}; give the UUID of one"
        f" ({', '.join(found)})",
        field=key,
    )
