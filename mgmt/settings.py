"""The one settings object of every zcloud process (pydantic-settings, prefix ``ZCLOUD_``).

Built once by the process entry point (``mgmt.cli``) and passed down; nothing reads the
environment anywhere else.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_VAR_DIR = Path("var")


def _default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZCLOUD_", extra="ignore", frozen=True)

    db_url: str = Field(
        default=f"sqlite+aiosqlite:///{DEFAULT_VAR_DIR}/zcloud.db",
        description="SQLAlchemy async URL. postgresql+asyncpg://… in a cluster.",
    )
    db_pool_size: int = Field(
        default=20,
        ge=1,
        le=200,
        description="Database connections a process may hold (opened on demand, then kept).",
    )
    amqp_url: str | None = Field(
        default=None, description="RabbitMQ URL; unset means the in-process bus (all-in-one)."
    )
    bus_prefix: str = Field(
        default="zcloud", description="Prefix of every exchange and queue this deployment uses."
    )
    partitions: int = Field(default=64, ge=1, le=4096, description="P, fixed per deployment.")
    node_id: str = Field(default_factory=_default_node_id)
    heartbeat_interval: float = Field(default=2.0, gt=0, description="Lease renewal period, s.")
    heartbeat_misses: int = Field(
        default=3, ge=2, description="Renewals a node may miss before the others remove it."
    )
    prefetch: int = Field(default=64, ge=1, description="Unacked messages per partition.")
    max_concurrent_handlers: int = Field(
        default=128, ge=1, description="Handlers running at once on a node, all partitions."
    )
    transient_retry_seconds: float = Field(
        default=60.0, ge=0, description="How long a handler hit by a transient error is retried."
    )
    max_attempts: int = Field(
        default=5, ge=1, description="Deliveries before a message is dead-lettered."
    )
    max_message_bytes: int = Field(default=1 << 20, ge=1024)
    default_timeout: float = Field(default=30.0, gt=0, description="Request deadline, s.")
    drain_timeout: float = Field(
        default=10.0, gt=0, description="How long a released partition may finish its work."
    )
    shutdown_grace: float = Field(
        default=15.0,
        gt=0,
        description=(
            "Seconds a process has from SIGTERM to exit; each stop stage gets a share, "
            "and a process still running when it ends (or on a second signal) is ended."
        ),
    )
    callback_base_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Where agents POST replies: an API frontend or the load balancer.",
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    mgmt_host: str = "127.0.0.1"
    mgmt_port: int = Field(default=8081, ge=0, le=65535, description="Health/metrics port.")
    sim_port: int = Field(default=7070, ge=0, le=65535, description="All-in-one simulator.")
    sim_hosts: int = Field(default=4, ge=0, description="Hosts of the all-in-one's demo.")
    demo: bool = Field(
        default=True, description="The all-in-one makes its demo environment (up --empty: no)."
    )
    simulator_url: str | None = Field(
        default=None,
        description="The simulator agent (zcloud agent sim) Simulator hosts are served by; "
        "unset: the all-in-one's, http://<api_host>:<sim_port>.",
    )
    agent_timeout: float = Field(default=300.0, gt=0, description="Default agent task deadline.")
    agent_poll_after: float = Field(
        default=10.0, gt=0, description="Ask the agent about a task pending this long, s."
    )
    gconfig_poll_interval: float = Field(
        default=5.0,
        gt=0,
        description="Global config re-read period, s (the fallback when a change event is lost).",
    )
    plugins: str = Field(
        default="",
        description="Extra plugins, comma-separated module:factory (besides entry points).",
    )
    modules: str = Field(
        default="",
        description="Extra service modules, comma-separated module:attribute (a ServiceModule).",
    )
    admin_password: SecretStr | None = Field(
        default=None,
        description="Password of the admin account created on first start (else printed once).",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Deployment secret access keys derive from (else one kept in the database).",
    )
    api_job_republish_after: float = Field(
        default=30.0,
        gt=0,
        description="A job still Pending this long had its message lost: publish it again, s.",
    )
    api_job_timeout: float = Field(
        default=3600.0,
        gt=0,
        description="A job no node finished in this long fails with SYS.1001, s.",
    )
    api_job_retention: float = Field(
        default=86400.0, gt=0, description="Seconds an API job's result can be fetched."
    )
    flow_retention: float = Field(
        default=3 * 86400.0,
        gt=0,
        description="Finished flow runs, agent tasks and done GC jobs are deleted after, s.",
    )
    flow_purge_interval: float = Field(
        default=300.0, gt=0, description="How often a node deletes them for its partitions, s."
    )
    counter_check_interval: float = Field(
        default=60.0,
        gt=0,
        description="How often a node recalculates the counters of its partitions, s.",
    )
    test_hooks: bool = Field(
        default=False,
        description="Honour the test-only fault hooks (RunDiagFlow.killAt SIGKILLs the node). "
        "Only the test suite sets it: off, a node ignores kill requests.",
    )
    log_level: str = "INFO"
    log_json: bool = Field(default=True, description="JSON lines; false gives console output.")
    var_dir: Path = DEFAULT_VAR_DIR

    @property
    def simulator_agent_url(self) -> str:
        """Where every command to a Simulator host goes (never to its managementIp)."""
        return self.simulator_url or f"http://{self.api_host}:{self.sim_port}"

    @field_validator("db_url")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        if not (v.startswith("sqlite+aiosqlite://") or v.startswith("postgresql+asyncpg://")):
            raise ValueError("db_url must be sqlite+aiosqlite://… or postgresql+asyncpg://…")
        return v

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def lease_seconds(self) -> float:
        """How long a node stays a member without renewing (misses * interval)."""
        return self.heartbeat_interval * self.heartbeat_misses
