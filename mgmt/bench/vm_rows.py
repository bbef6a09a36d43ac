"""Fill the VM table to a count for the query part of ``zcloud bench vm``: copies of the VMs
made through the API (every column the same but the UUID, name, NIC UUID, MAC and IP; the
copies' IPs are in 10.200.0.0/14, outside the bench's range, and are not held in IPAM).
Bulk inserts with bound parameters, then ``ANALYZE`` as an operator's autovacuum would."""

from __future__ import annotations

import ipaddress
import time
import uuid as uuidlib
from typing import Any

from sqlalchemy import Table, insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from mgmt.vm.models import VmInstanceRow, VmNicRow

BATCH = 5000
VM_TABLE: Table = VmInstanceRow.__table__  # type: ignore[assignment]
NIC_TABLE: Table = VmNicRow.__table__  # type: ignore[assignment]
_COPY_NET = ipaddress.ip_network("10.200.0.0/14")


def _columns(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


async def fill_vm_table(db_url: str, target: int) -> dict[str, Any]:
    """Copies until the table holds ``target`` VMs; the IPs of the NICs of all of them."""
    engine = create_async_engine(db_url)
    started = time.perf_counter()
    try:
        async with engine.connect() as conn:
            vms = (await conn.execute(select(VM_TABLE))).all()
            nics = (await conn.execute(select(NIC_TABLE))).all()
        by_vm: dict[str, list[Any]] = {}
        for n in nics:
            by_vm.setdefault(n.vm_instance_uuid, []).append(n)
        templates = [v for v in vms if v.uuid in by_vm]
        ips = [n.ip for n in nics]
        copied = 0
        want = max(0, target - len(vms))
        while copied < want and templates:
            vm_batch: list[dict[str, Any]] = []
            nic_batch: list[dict[str, Any]] = []
            for _ in range(min(BATCH, want - copied)):
                template = templates[copied % len(templates)]
                vm = _columns(template)
                vm.update(uuid=str(uuidlib.uuid4()), name=f"copy{copied}")
                vm_batch.append(vm)
                for nic_template in by_vm[template.uuid]:
                    nic = _columns(nic_template)
                    ip = str(_COPY_NET[copied + 1])
                    nic.update(
                        uuid=str(uuidlib.uuid4()),
                        vm_instance_uuid=vm["uuid"],
                        ip=ip,
                        mac="fc:" + ":".join(f"{b:02x}" for b in (copied + 1).to_bytes(5, "big")),
                    )
                    nic_batch.append(nic)
                    ips.append(ip)
                copied += 1
            async with engine.begin() as conn:
                await conn.execute(insert(VM_TABLE), vm_batch)
                await conn.execute(insert(NIC_TABLE), nic_batch)
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE vm_instance"))
            await conn.execute(text("ANALYZE vm_nic"))
            await conn.commit()
    finally:
        await engine.dispose()
    return {
        "copied": copied,
        "seconds": round(time.perf_counter() - started, 1),
        "ips": ips,
    }
