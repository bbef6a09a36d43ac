"""``zcloud bench <name>``: benchmarks that print their figures; the last line is one JSON
object. Each compares against a baseline measured in the same run."""

from __future__ import annotations

import asyncio


def run_bench(name: str, argv: list[str]) -> int:
    if name == "bus":
        from mgmt.bench.bus import main as bus_main  # noqa: PLC0415

        return asyncio.run(bus_main(argv))
    if name == "failover":
        from mgmt.bench.failover import main as failover_main  # noqa: PLC0415

        return asyncio.run(failover_main(argv))
    if name == "flow":
        from mgmt.bench.flow import main as flow_main  # noqa: PLC0415

        return asyncio.run(flow_main(argv))
    if name == "api":
        from mgmt.bench.api import main as api_main  # noqa: PLC0415

        return asyncio.run(api_main(argv))
    if name == "infra":
        from mgmt.bench.infra import main as infra_main  # noqa: PLC0415

        return asyncio.run(infra_main(argv))
    if name == "vm":
        from mgmt.bench.vm import main as vm_main  # noqa: PLC0415

        return asyncio.run(vm_main(argv))
    raise SystemExit(f"unknown benchmark {name!r}")
