"""Settings for one berth process, from the CLI and BERTH_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .core.service import CoreSettings


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5000
    data: Path = Path("berth-data")
    public_url: str | None = None
    account_id: str = CoreSettings.account_id
    alias: str = CoreSettings.alias
    metadata_url: str | None = None
    blobs_url: str | None = None
    redirect_blobs: bool = False  # blob GETs answered with a 307 to a presigned URL
    gc_interval: float = 3600.0  # seconds between background collections; 0 turns them off
    gc_grace: float = 3600.0  # nothing younger than this is ever collected
    upload_max_age: float = 24 * 3600.0  # idle upload sessions older than this are purged
    auth: str = "open"  # control-plane SigV4: "open" or "strict"
    credentials: Path | None = None  # strict mode's access keys (TOML)
    token_ttl: float = CoreSettings.token_ttl  # seconds a /token bearer token lives

    @property
    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def effective_metadata_url(self) -> str:
        return self.metadata_url or f"sqlite:///{self.data.resolve() / 'berth.db'}"

    @property
    def effective_blobs_url(self) -> str:
        return self.blobs_url or f"file://{self.data.resolve()}"

    def core_settings(self) -> CoreSettings:
        return CoreSettings(
            account_id=self.account_id,
            alias=self.alias,
            public_url=self.effective_public_url,
            redirect_blobs=self.redirect_blobs,
            gc_grace=self.gc_grace,
            token_ttl=self.token_ttl,
        )
