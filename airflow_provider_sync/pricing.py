"""What a render will cost, estimated before it is submitted.

Runware prices Sync's models per second of audio. :data:`PRICES` is the one table of those
prices (a price change is a one-line edit there); :func:`estimate_cost` turns a request and the
audio durations that can be known without sending anything into an :class:`Estimate`, which
says its basis, or that the cost is unknown and why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Price:
    """A model's price.

    :param usd_per_audio_second: USD per second of audio.
    :param source: where it was read.
    :param read: the date it was read (ISO).
    :param confirmed: read on Runware's own page (``False``: a third party's reading of it).
    """

    usd_per_audio_second: float
    source: str
    read: str
    confirmed: bool


#: USD per second of audio, per model (AIR id). Only lipsync-2's is on a Runware page we could
#: read; the others are a third party's reading of runware.ai/models/<slug> (a comparison table in
#: a public repository's README), marked unconfirmed. Check them against runware.ai before relying
#: on max_cost for those models.
PRICES: dict[str, Price] = {
    "sync:lipsync-2@1": Price(
        0.044, "https://runware.ai/docs/models/sync-lipsync-2 (Pricing)", "2026-12-02", True
    ),
    "sync:lipsync-2-pro@1": Price(
        0.0733, "runware.ai/models/sync-lipsync-2-pro, as quoted by a third party", "2026-12-02", False
    ),
    "sync:react-1@1": Price(
        0.1467, "runware.ai/models/sync-react-1, as quoted by a third party", "2026-12-02", False
    ),
    "sync:3@0": Price(
        0.133,
        "runware.ai/models/sync-3, as quoted by a third party (its Runware docs page lists no price; "
        "sync.so lists sync-3 at USD 0.107-0.133 per second at 25 fps)",
        "2026-12-02",
        False,
    ),
}


@dataclass(frozen=True)
class Estimate:
    """A render's estimated price.

    :param usd: the estimate, or ``None`` when it cannot be known before the render.
    :param basis: how it was reached (or why it is unknown), for logs and errors.
    """

    usd: float | None
    basis: str

    def describe(self) -> str:
        """``USD 0.2640 (6.0 s of audio x USD 0.044/s ...)`` or ``unknown (...)``."""
        if self.usd is None:
            return f"unknown ({self.basis})"
        return f"USD {self.usd:.4f} ({self.basis})"


#: Measures an audio source that is a file (local or object storage); ``None`` when it cannot.
Measure = Callable[[str], "float | None"]


def estimate_cost(request: Mapping[str, Any], measure: Measure | None = None) -> Estimate:
    """The price of the render ``request`` asks for, from the seconds of audio it will use.

    Segments give their seconds in the request (the sum of their video ranges). Otherwise the
    audio is the first audio file's length, when ``measure`` can read it (a local or
    object-storage file); a media UUID, a URL or text-to-speech give no length before the
    render, and the estimate is unknown.

    :param measure: reads a file source's duration in seconds (see :func:`audio_duration`).
    """
    model = str(request.get("model"))
    price = PRICES.get(model)
    if price is None:
        return Estimate(None, f"no price recorded for {model}")
    seconds, what = _audio_seconds(request, measure)
    if seconds is None:
        return Estimate(None, what)
    usd = round(seconds * price.usd_per_audio_second, 4)
    status = "" if price.confirmed else ", unconfirmed"
    return Estimate(
        usd,
        f"{what}: {seconds:.1f} s of audio x USD {price.usd_per_audio_second}/s for {model} "
        f"({price.source}, read {price.read}{status})",
    )


def _audio_seconds(request: Mapping[str, Any], measure: Measure | None) -> tuple[float | None, str]:
    inputs = request.get("inputs") or {}
    settings = request.get("settings") or (request.get("providerSettings") or {}).get("sync") or {}
    segments = settings.get("segments") or []
    if segments:
        total = sum(float(s["endTime"]) - float(s["startTime"]) for s in segments)
        return total, f"{len(segments)} segment(s)"
    audio = inputs.get("audio")
    first = audio if isinstance(audio, str) else (audio[0].get("source") if audio else None)
    if first is None:
        return None, "text-to-speech: the audio's length is known only after the render"
    from airflow_provider_sync.media import describe_source, is_remote

    shown = describe_source(str(first))
    if is_remote(str(first)) or measure is None:
        return None, f"audio {shown} is not a file the worker can measure"
    seconds = measure(str(first))
    if seconds is None:
        return None, f"the length of audio {shown} could not be read"
    return seconds, f"audio {shown}"


def audio_duration(source: str, location: str | None = None) -> float | None:
    """Seconds of audio in a local or object-storage file, read from its headers; ``None`` when
    the format is not one mutagen reads or the file cannot be read.

    Reads only what mutagen needs (headers, and for some formats the last page), through
    Airflow's object storage for ``s3://`` and the like.

    :param location: where to read it, if not ``source`` (a checked path from a template).
    """
    import mutagen

    from airflow_provider_sync.media import _path

    try:
        with _path(location or source).open("rb") as stream:
            found = mutagen.File(stream)
    except Exception:  # mutagen raises its own errors for damaged or unknown files
        return None
    length = getattr(getattr(found, "info", None), "length", None)
    if not isinstance(length, (int, float)) or not math.isfinite(length) or length <= 0:
        return None
    return float(length)


def parse_max_cost(value: Any) -> float | None:
    """``max_cost`` in USD: a positive finite number (a numeric string too), or ``None``.

    :raises SyncValidationError: for anything else (booleans, ``nan``, ``0``, negative values).
    """
    from airflow_provider_sync.exceptions import SyncValidationError
    from airflow_provider_sync.models import _none_if_blank, short_repr

    value = _none_if_blank(value)
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        usd = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise SyncValidationError(f"max_cost: {short_repr(value)} is not an amount of USD") from None
    if not math.isfinite(usd) or usd <= 0:
        raise SyncValidationError(f"max_cost: {short_repr(value)} must be a finite amount of USD above 0")
    return usd


__all__ = ["PRICES", "Estimate", "Price", "audio_duration", "estimate_cost", "parse_max_cost"]
