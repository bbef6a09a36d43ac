"""Names for UUIDs on the command line: which resource a parameter names, and the lookup's
three outcomes (one match, none, several)."""

from __future__ import annotations

import uuid

import pytest

from mgmt.client.errors import UsageError
from mgmt.client.names import queryable, resolve_names, resource_of
from mgmt.client.spec import OperationInfo


def _op(name: str, method: str, path: str) -> OperationInfo:
    return OperationInfo(name, method, path, "", "", (), method != "GET")


OPS = [
    _op("QueryVmInstance", "GET", "/v1/vm-instances"),
    _op("QueryL3Network", "GET", "/v1/l3-networks"),
    _op("QueryDiskOffering", "GET", "/v1/disk-offerings"),
    _op("QueryInstanceOffering", "GET", "/v1/instance-offerings"),
    _op("QueryPrimaryStorage", "GET", "/v1/primary-storage"),
    _op("QueryImage", "GET", "/v1/images"),
    _op("GetImage", "GET", "/v1/images/{uuid}"),
]
RESOURCES = queryable(OPS)
STOP = _op("StopVmInstance", "POST", "/v1/vm-instances/{uuid}/actions/stop")
CREATE = _op("CreateVmInstance", "POST", "/v1/vm-instances")


@pytest.mark.parametrize(
    ("op", "param", "resource"),
    [
        (STOP, "uuid", "VmInstance"),
        (CREATE, "imageUuid", "Image"),
        (CREATE, "instanceOfferingUuid", "InstanceOffering"),
        (CREATE, "l3NetworkUuids", "L3Network"),
        (CREATE, "defaultL3NetworkUuid", "L3Network"),
        (CREATE, "dataDiskOfferingUuids", "DiskOffering"),
        (CREATE, "rootDiskOfferingUuid", "DiskOffering"),
        (CREATE, "primaryStorageUuidForRootVolume", "PrimaryStorage"),
        (CREATE, "name", None),
        (CREATE, "hostUuid", None),  # no QueryHost in this document: left as given
        (CREATE, "uuidList", None),
    ],
)
def test_the_resource_a_parameter_names(op: OperationInfo, param: str, resource: str) -> None:
    assert resource_of(op, param, RESOURCES) == resource


def test_names_are_looked_up_and_uuids_pass_through() -> None:
    image, l3a, l3b = (str(uuid.uuid4()) for _ in range(3))
    table = {("Image", "demo-image"): [image], ("L3Network", "net-a"): [l3a]}
    asked: list[tuple[str, str]] = []

    def lookup(resource: str, name: str) -> list[str]:
        asked.append((resource, name))
        return table.get((resource, name), [])

    params = {"name": "web1", "imageUuid": "demo-image", "l3NetworkUuids": ["net-a", l3b]}
    out = resolve_names(CREATE, params, RESOURCES, lookup)
    assert out == {"name": "web1", "imageUuid": image, "l3NetworkUuids": [l3a, l3b]}
    assert asked == [("Image", "demo-image"), ("L3Network", "net-a")]  # UUIDs not looked up


def test_a_name_of_several_is_refused_and_of_none_sent_as_given() -> None:
    two = [str(uuid.uuid4()), str(uuid.uuid4())]
    assert resolve_names(STOP, {"uuid": "nope"}, RESOURCES, lambda r, n: []) == {"uuid": "nope"}
    with pytest.raises(UsageError) as several:
        resolve_names(STOP, {"uuid": "web"}, RESOURCES, lambda r, n: two)
    assert several.value.field == "uuid" and all(u in several.value.details for u in two)
