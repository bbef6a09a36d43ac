"""Settings of ``zcloud agent sim`` (environment prefix ``ZCLOUD_SIM_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SimSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZCLOUD_SIM_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=7070, ge=0, le=65535)
    default_cpu: int = Field(default=32, ge=1, description="CPUs of a host made implicitly.")
    default_memory: int = Field(default=128 << 30, ge=1, description="Bytes of memory, likewise.")
    storage_bytes: int = Field(
        default=10 << 40, ge=1, description="Size a simulated NFS/SharedMountPoint mount reports."
    )
    backup_storage_bytes: int = Field(
        default=20 << 40, ge=1, description="Size of a simulated ImageStore backup storage."
    )
    callback_retry_seconds: float = Field(default=120.0, ge=0)
    task_retention: int = Field(default=200_000, ge=100, description="Finished tasks remembered.")
    task_ttl: float = Field(default=3600.0, gt=0)
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
