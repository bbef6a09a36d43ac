"""Protocol commands run against a simulated host (with its injected faults applied)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from agent.protocol import (
    AgentCommand,
    AgentReply,
    ConnectHost,
    ConnectHostReply,
    DestroyVm,
    DestroyVmReply,
    Echo,
    EchoReply,
    GetVmStates,
    GetVmStatesReply,
    HeartbeatHost,
    HeartbeatHostReply,
    HostCapacity,
    HostCapacityReply,
    HostFacts,
    HostFactsReply,
    LocalStorage,
    PauseVm,
    PauseVmReply,
    PingHost,
    PingHostReply,
    RealizeL2Network,
    RealizeL2NetworkReply,
    RebootVm,
    RebootVmReply,
    ResumeVm,
    ResumeVmReply,
    StartVm,
    StartVmReply,
    StopVm,
    StopVmReply,
    UnrealizeL2Network,
    UnrealizeL2NetworkReply,
    VmPowerState,
)
from agent.sim.hosts import Fault, FaultAction, SimHost, VmError
from agent.sim.volumes import VOLUME_HANDLERS

AGENT_VERSION = "0.1.0"


def _echo(host: SimHost, cmd: Echo) -> AgentReply:
    return EchoReply()


def _connect(host: SimHost, cmd: ConnectHost) -> AgentReply:
    host.resize(cmd.cpuCapacity, cmd.memoryCapacity)
    if cmd.reportUrl:
        host.report_url = cmd.reportUrl
    return ConnectHostReply(
        hostUuid=host.uuid,
        hypervisorType="Simulator",
        agentVersion=AGENT_VERSION,
        cpuNum=host.cpu,
        memoryBytes=host.memory,
    )


#: what every simulated host reports besides its capacity (fixed: a demo's hosts look alike)
SIM_CPU_MHZ = 2400
SIM_ARCH = "x86_64"
SIM_DISK = 2 << 40


def _facts(host: SimHost, cmd: HostFacts) -> AgentReply:
    return HostFactsReply(
        hostUuid=host.uuid,
        cpuNum=host.cpu,
        cpuSpeedMhz=SIM_CPU_MHZ,
        cpuModel="zcloud simulated CPU",
        memoryBytes=host.memory,
        architecture=SIM_ARCH,
        hypervisorVersion=AGENT_VERSION,
        localStorage=[
            LocalStorage(path="/var/lib/zcloud", totalBytes=SIM_DISK, availableBytes=SIM_DISK)
        ],
    )


def _ping(host: SimHost, cmd: PingHost) -> AgentReply:
    return PingHostReply(hostUuid=host.uuid, uptimeSeconds=time.monotonic() - host.booted)


def _heartbeat(host: SimHost, cmd: HeartbeatHost) -> AgentReply:
    return HeartbeatHostReply(hostUuid=host.uuid, uptimeSeconds=time.monotonic() - host.booted)


def _capacity(host: SimHost, cmd: HostCapacity) -> AgentReply:
    return HostCapacityReply(
        cpuNum=host.cpu,
        cpuUsed=host.cpu_used,
        memoryBytes=host.memory,
        memoryUsed=host.memory_used,
        vmCount=len(host.vms),
    )


def _start(host: SimHost, cmd: StartVm) -> AgentReply:
    vm = host.start_vm(cmd.vmUuid, cmd.name, cmd.cpuNum, cmd.memoryBytes, cmd.hostname)
    return StartVmReply(vmUuid=vm.uuid, powerState=vm.state)


def _stop(host: SimHost, cmd: StopVm) -> AgentReply:
    vm = host.stop_vm(cmd.vmUuid)
    return StopVmReply(vmUuid=vm.uuid, powerState=vm.state)


def _reboot(host: SimHost, cmd: RebootVm) -> AgentReply:
    vm = host.reboot_vm(cmd.vmUuid)
    return RebootVmReply(vmUuid=vm.uuid, powerState=vm.state)


def _pause(host: SimHost, cmd: PauseVm) -> AgentReply:
    vm = host.pause_vm(cmd.vmUuid)
    return PauseVmReply(vmUuid=vm.uuid, powerState=vm.state)


def _resume(host: SimHost, cmd: ResumeVm) -> AgentReply:
    vm = host.resume_vm(cmd.vmUuid)
    return ResumeVmReply(vmUuid=vm.uuid, powerState=vm.state)


def _destroy(host: SimHost, cmd: DestroyVm) -> AgentReply:
    host.destroy_vm(cmd.vmUuid)
    return DestroyVmReply(vmUuid=cmd.vmUuid, powerState=VmPowerState.STOPPED)


def _states(host: SimHost, cmd: GetVmStates) -> AgentReply:
    wanted = cmd.vmUuids or list(host.vms)
    return GetVmStatesReply(
        states={u: host.vms[u].state if u in host.vms else VmPowerState.UNKNOWN for u in wanted}
    )


def _realize_l2(host: SimHost, cmd: RealizeL2Network) -> AgentReply:
    held = host.bridges.get(cmd.bridgeName)
    if held is not None and held["l2NetworkUuid"] != cmd.l2NetworkUuid:
        return RealizeL2NetworkReply(
            success=False,
            error=f"bridge {cmd.bridgeName} is L2 network {held['l2NetworkUuid']}'s",
            errorCode="BRIDGE_TAKEN",
        )
    host.bridges[cmd.bridgeName] = cmd.model_dump(mode="json", exclude={"bridgeName"})
    return RealizeL2NetworkReply(bridgeName=cmd.bridgeName)


def _unrealize_l2(host: SimHost, cmd: UnrealizeL2Network) -> AgentReply:
    held = host.bridges.get(cmd.bridgeName)
    if held is not None and held["l2NetworkUuid"] == cmd.l2NetworkUuid:
        del host.bridges[cmd.bridgeName]
    return UnrealizeL2NetworkReply()


# Dispatch by table, one entry per protocol command.
HANDLERS: dict[type[AgentCommand], Callable[[SimHost, AgentCommand], AgentReply]] = {
    Echo: _echo,  # type: ignore[dict-item]
    ConnectHost: _connect,  # type: ignore[dict-item]
    HostFacts: _facts,  # type: ignore[dict-item]
    PingHost: _ping,  # type: ignore[dict-item]
    HeartbeatHost: _heartbeat,  # type: ignore[dict-item]
    HostCapacity: _capacity,  # type: ignore[dict-item]
    StartVm: _start,  # type: ignore[dict-item]
    StopVm: _stop,  # type: ignore[dict-item]
    RebootVm: _reboot,  # type: ignore[dict-item]
    PauseVm: _pause,  # type: ignore[dict-item]
    ResumeVm: _resume,  # type: ignore[dict-item]
    DestroyVm: _destroy,  # type: ignore[dict-item]
    GetVmStates: _states,  # type: ignore[dict-item]
    RealizeL2Network: _realize_l2,  # type: ignore[dict-item]
    UnrealizeL2Network: _unrealize_l2,  # type: ignore[dict-item]
    **VOLUME_HANDLERS,
}


#: a command the caller runs itself (storage commands, which need more than the host)
Override = Callable[[], Awaitable[AgentReply]]


async def _ignored_shutdown(host: SimHost, command: StopVm) -> AgentReply:
    """A graceful stop of a guest that does not shut down: the grace period passes, then
    it is powered off (``forced``)."""
    await asyncio.sleep(command.graceSeconds)
    try:
        vm = host.stop_vm(command.vmUuid)
    except VmError as exc:
        return StopVmReply(success=False, error=str(exc), errorCode=exc.code)
    return StopVmReply(vmUuid=vm.uuid, powerState=vm.state, forced=True)


async def execute(
    host: SimHost, command: AgentCommand, fault: Fault | None, override: Override | None = None
) -> tuple[AgentReply, int]:
    """Run ``command`` on ``host`` under ``fault``; (reply, how many callbacks to send)."""
    reply_type = type(command).reply_type
    if fault is not None and fault.action is FaultAction.DELAY:
        await asyncio.sleep(fault.seconds)
    if fault is not None and fault.action is FaultAction.HOLD:
        await host.held(fault)
    if fault is not None and fault.action is FaultAction.HANG:
        # never answers: the caller's deadline passes first (the task stays Running here)
        await asyncio.sleep(fault.seconds or 3600)
        return reply_type(success=False, error="hung", errorCode="INJECTED"), 0
    if host.crashed:  # crashed while the command waited: no reply ever comes
        return reply_type(success=False, error="host crashed", errorCode="CRASHED"), 0
    if (
        fault is not None
        and fault.action is FaultAction.IGNORE_SHUTDOWN
        and isinstance(command, StopVm)
        and not command.force
    ):
        return await _ignored_shutdown(host, command), 1
    if fault is not None and fault.action is FaultAction.FAIL:
        return (
            reply_type(
                success=False, error=fault.error, errorCode="INJECTED", retryable=fault.retryable
            ),
            1,
        )
    try:
        reply = await override() if override else HANDLERS[type(command)](host, command)
    except VmError as exc:
        reply = reply_type(success=False, error=str(exc), errorCode=exc.code)
    if fault is not None and fault.action is FaultAction.DROP_CALLBACK:
        return reply, 0
    if fault is not None and fault.action is FaultAction.DUPLICATE_CALLBACK:
        return reply, 2
    return reply, 1
