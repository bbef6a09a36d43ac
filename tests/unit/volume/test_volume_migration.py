"""Migration 0013 on SQLite: a VM placed before it gets its root volume's row, with the
UUID ``mgmt.volume`` derives and the VM's root reservations recorded on it (what the
storage counter's recalculation counts)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from mgmt.core.db import Database
from mgmt.core.db.migrate import upgrade
from mgmt.volume import root_volume_uuid

VM = "9c0d1e2f-0000-4000-8000-00000000000a"


async def test_0013_gives_placed_vms_their_root_volume_rows(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/m.db")
    try:
        await upgrade(db, "0012")
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO vm_instance (uuid, name, description, owner_account_uuid, "
                    "created_at, updated_at, state, image_uuid, cpu_num, memory_size, platform, "
                    "root_primary_storage_uuid, root_reservation, root_size, l3_network_uuids, "
                    "static_ips, placement, last_host_uuid) VALUES (:vm, 'old', '', 'acc', "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00', 'Stopped', 'img', 1, 1, "
                    "'Linux', 'ps', 'r/ps/0,r/ps/1', 4096, '[]', '{}', '{}', 'h1')"
                ),
                {"vm": VM},
            )
            await conn.execute(
                text(
                    "INSERT INTO vm_instance (uuid, name, description, owner_account_uuid, "
                    "created_at, updated_at, state, image_uuid, cpu_num, memory_size, platform, "
                    "root_size, l3_network_uuids, static_ips, placement) VALUES ('never', "
                    "'new', '', 'acc', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 'Created', "
                    "'img', 1, 1, 'Linux', 0, '[]', '{}', '{}')"
                )
            )
        await upgrade(db)
        async with db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT uuid, type, vm_instance_uuid, size, reservation, host_uuid, "
                        "device_id, state FROM volume"
                    )
                )
            ).all()
            linked = await conn.scalar(
                text("SELECT root_volume_uuid FROM vm_instance WHERE uuid = :vm"), {"vm": VM}
            )
        root = root_volume_uuid(VM)
        assert [tuple(r) for r in rows] == [
            (root, "Root", VM, 4096, "r/ps/0,r/ps/1", "h1", 0, "Ready")
        ]
        assert linked == root
    finally:
        await db.close()
