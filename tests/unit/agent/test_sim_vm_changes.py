"""A simulated host's VMs changing on their own (``SimHost.set_vm_state``): capacity
follows every change, and the admin endpoint answers whether a report was sent."""

from __future__ import annotations

import asyncio

import httpx

from agent.protocol import VmPowerState
from agent.sim.app import create_app
from agent.sim.hosts import Fault, FaultAction, SimHost
from agent.sim.settings import SimSettings

GiB = 1 << 30


def test_capacity_follows_a_vm_stopping_pausing_appearing_and_going() -> None:
    host = SimHost("h", cpu=4, memory=8 * GiB)
    host.start_vm("a", "a", 1, GiB)
    host.set_vm_state("a", "Stopped", 1, GiB)
    assert (host.cpu_used, host.memory_used, host.vms["a"].state) == (0, 0, VmPowerState.STOPPED)
    host.set_vm_state("a", "Paused", 1, GiB)  # a stopped VM paused again holds its memory
    assert (host.memory_used, host.vms["a"].state) == (GiB, VmPowerState.PAUSED)
    host.set_vm_state("b", "Running", 2, 2 * GiB)  # one that appears
    assert (host.cpu_used, host.memory_used) == (3, 3 * GiB)
    host.set_vm_state("a", "Gone", 1, GiB)
    host.set_vm_state("b", "Gone", 1, GiB)
    assert (host.cpu_used, host.memory_used, host.vms) == (0, 0, {})


async def test_the_endpoint_reports_only_when_connected_with_a_report_url() -> None:
    app = create_app(SimSettings(callback_retry_seconds=0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        made = await client.post("/sim/hosts", json={"count": 1})
        host = made.json()["hosts"][0]["uuid"]
        resp = await client.post(f"/sim/hosts/{host}/vms/v1/state", json={"state": "Running"})
        assert resp.status_code == 200 and resp.json()["reported"] is False
        assert resp.json()["memoryUsed"] == GiB
        bad = await client.post(f"/sim/hosts/{host}/vms/v1/state", json={"state": "Off"})
        assert bad.status_code == 422
        missing = await client.post("/sim/hosts/nope/vms/v1/state", json={"state": "Gone"})
        assert missing.status_code == 404
    await app.state.endpoint.close()


async def test_a_hold_fault_holds_until_cleared_and_affects_times_commands() -> None:
    host = SimHost("h", cpu=4, memory=8 * GiB)
    host.faults.append(Fault(command="StopVm", action=FaultAction.HOLD, times=1))
    held = host.take_fault("StopVm")
    assert held is not None and host.holds(held)
    assert host.take_fault("StopVm") is None  # spent: the next StopVm runs at once
    waiting = asyncio.create_task(host.held(held))
    await asyncio.sleep(0)
    assert not waiting.done()
    host.clear_faults()
    await waiting
    assert not host.holds(held)
