"""Settings of the local Runware emulator (command-line flags and the admin API set them)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from airflow_provider_sync.pricing import PRICES

OutputMode = Literal["render", "metadata"]
#: How ``getResponse`` says it does not know a task. Runware has not published which one
#: (its clients accept all of them), so the emulator can answer each way.
NOT_FOUND_STYLES = ("taskFailedOrNotFound", "taskNotFound", "taskExpired", "empty")
#: Where a failed job's error travels in a ``getResponse`` answer: ``nested`` in a ``data``
#: item (``{"status": "error", "error": {"code", "message"}}``, runware-typescript's
#: ``GetResponseResult``), or ``errors`` as a flat error object (older docs).
JOB_ERROR_STYLES = ("nested", "errors")

#: USD per second of audio, per model: the provider's one price table
#: (:data:`airflow_provider_sync.pricing.PRICES`, with its sources), and sync-3's older id.
PRICES_PER_AUDIO_SECOND: dict[str, float] = {
    **{model: price.usd_per_audio_second for model, price in PRICES.items()},
    "sync:lipsync@3": PRICES["sync:3@0"].usd_per_audio_second,
}
DEFAULT_API_KEY = "emulator-key"


def default_output_mode() -> OutputMode:
    """``render`` when PyAV (the ``[emulator]`` extra) is installed, else ``metadata``."""
    try:
        import av  # noqa: F401
    except ImportError:
        return "metadata"
    return "render"


@dataclass
class EmulatorConfig:
    """How the emulator behaves.

    :param api_keys: keys accepted as ``Bearer`` tokens or in an ``authentication`` task.
    :param render_seconds: fixed part of every job's render time.
    :param render_seconds_per_audio_second: added render time per second of audio.
    :param media_dir: where uploaded media and rendered outputs are kept (a temporary
        folder when ``None``).
    :param output: ``render`` (a real video, needs PyAV) or ``metadata`` (a small JSON file
        describing the job: fast, for load tests).
    :param rate_limit: requests per second before answering 429 (0 = no limit).
    :param credit_usd: account balance; jobs that would overdraw it are refused (``None`` =
        unlimited).
    :param seed: seed of the fault dice, for reproducible runs.
    :param log_limit: request-log entries kept (oldest dropped first).
    :param not_found_style: how ``getResponse`` says "unknown task": an error with one of
        Runware's codes (``taskFailedOrNotFound``, ``taskNotFound``, ``taskExpired``), or
        ``empty`` (no item for the task at all).
    :param job_error_style: ``nested`` or ``errors`` (see :data:`JOB_ERROR_STYLES`).
    """

    api_keys: list[str] = field(default_factory=lambda: [DEFAULT_API_KEY])
    render_seconds: float = 3.0
    render_seconds_per_audio_second: float = 0.0
    media_dir: Path | None = None
    output: OutputMode = field(default_factory=default_output_mode)
    rate_limit: float = 0.0
    credit_usd: float | None = None
    seed: int | None = None
    log_limit: int = 5000
    not_found_style: str = "taskFailedOrNotFound"
    job_error_style: str = "nested"

    def update(self, **changes: Any) -> None:
        """Apply admin-API changes, refusing unknown names."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}; known: {sorted(known)}")
        for name, value in changes.items():
            if name == "media_dir" and value is not None:
                value = Path(value)
            if name == "output" and value not in ("render", "metadata"):
                raise ValueError("output must be 'render' or 'metadata'")
            if name == "not_found_style" and value not in NOT_FOUND_STYLES:
                raise ValueError(f"not_found_style must be one of {', '.join(NOT_FOUND_STYLES)}")
            if name == "job_error_style" and value not in JOB_ERROR_STYLES:
                raise ValueError(f"job_error_style must be one of {', '.join(JOB_ERROR_STYLES)}")
            setattr(self, name, value)

    def public(self) -> dict[str, Any]:
        """The settings as JSON (keys are never shown)."""
        return {
            "api_keys": len(self.api_keys),
            "render_seconds": self.render_seconds,
            "render_seconds_per_audio_second": self.render_seconds_per_audio_second,
            "media_dir": str(self.media_dir) if self.media_dir else None,
            "output": self.output,
            "rate_limit": self.rate_limit,
            "credit_usd": self.credit_usd,
            "seed": self.seed,
            "not_found_style": self.not_found_style,
            "job_error_style": self.job_error_style,
        }
