"""Settings: read once at start-up (environment ENTREPOT_*, then an optional TOML file) and passed in.

Nothing reads the environment after `load_settings` returns; every component takes a `Settings`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PRIVATE_NETWORKS = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
]
LANGUAGES = ("en", "ko", "zh")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENTREPOT_", extra="forbid", frozen=True)

    config_file: Path | None = None
    data_dir: Path = Path("./entrepot-data")
    database_url: str | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000

    allowed_networks: list[str] = Field(default_factory=lambda: list(PRIVATE_NETWORKS))
    default_language: str = "en"
    #: "auto": Secure cookies when the request came over TLS; "always"/"never" force it.
    secure_cookies: str = "auto"
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    #: Kiosk terminals: short idle lock and no remembered username.
    shared_terminal: bool = False
    shared_terminal_idle_minutes: int = 5

    password_min_length: int = 12
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_lockout_minutes: int = 15
    login_max_failures_per_ip: int = 30

    max_form_bytes: int = 64 * 1024
    max_upload_bytes: int = 200 * 1024 * 1024
    #: Pictures, files and voice notes sent in the messenger.
    max_attachment_bytes: int = 25 * 1024 * 1024
    #: Originals of SECRET documents are read online only unless this is set.
    secret_original_downloads: bool = False
    #: Folder of trade reference CSVs (HS codes, country and currency names) for metadata suggestions.
    reference_dir: Path | None = None
    #: Folder watched for scanned files (default: "drop" in the data folder); done/ and failed/ inside it.
    drop_dir: Path | None = None
    #: Seconds a worker holds a job between progress reports before another worker may take it over.
    job_lease_seconds: int = 600
    #: Worker processes for ingest; 0 means one per CPU core.
    worker_processes: int = 0
    #: Seconds one page may take in OCR before it is given up with an error.
    ocr_page_timeout_s: int = 120
    #: Pages whose OCR confidence is below this are listed for a librarian to check or rescan.
    ocr_review_confidence: float = 70.0
    totp_issuer: str = "Entrepot"
    #: The off-topic rule: a conversation whose last `offtopic_window` scored messages have a mean trade
    #: score below `offtopic_threshold` is flagged once per drift. 0 turns the rule off.
    offtopic_window: int = Field(default=8, ge=0, le=100)
    offtopic_threshold: float = Field(default=0.12, gt=0, lt=1)

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"default_language must be one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("secure_cookies")
    @classmethod
    def _cookie_mode(cls, value: str) -> str:
        if value not in ("auto", "always", "never"):
            raise ValueError("secure_cookies must be auto, always or never")
        return value

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'entrepot.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit arguments beat the environment, which beats the TOML file.
        init_kwargs: dict[str, Any] = getattr(init_settings, "init_kwargs", {})
        toml_path = init_kwargs.get("config_file") or os.environ.get("ENTREPOT_CONFIG_FILE")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path:
            path = Path(toml_path)
            if not path.is_file():
                raise FileNotFoundError(f"configuration file not found: {path}")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once; `overrides` (from the CLI or tests) win over everything else."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
