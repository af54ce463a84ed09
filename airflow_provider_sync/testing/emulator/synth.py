"""A synthetic, deterministic voice-like signal for speech inputs and sample audio.

This is **not speech** and not text-to-speech: it is a harmonic tone whose loudness rises
and falls like syllables (one per letter group, silent at spaces and punctuation) and whose
pitch drifts like intonation. It gives offline renders an audio track with the rhythm and
length a spoken line would have, so sync modes and segments can be heard and measured.
"""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import numpy as np

#: Seconds of "speech" per character of text.
SECONDS_PER_CHAR = 0.07
MIN_SECONDS = 0.5


def speech_duration(text: str) -> float:
    """How long the synthetic voice takes to say ``text`` (seconds)."""
    return max(MIN_SECONDS, SECONDS_PER_CHAR * len(text.strip()))


def _pitch(voice_id: str) -> float:
    digest = hashlib.sha256(voice_id.encode()).digest()
    return 95.0 + (digest[0] / 255.0) * 130.0  # 95-225 Hz: low to high voices


def voice_signal(envelope: np.ndarray, sample_rate: int, pitch: float) -> np.ndarray:
    """A harmonic tone at ``pitch`` (with slow intonation) shaped by ``envelope``."""
    n = len(envelope)
    t = np.arange(n) / sample_rate
    f0 = pitch * (1.0 + 0.08 * np.sin(2 * np.pi * 1.3 * t) + 0.03 * np.sin(2 * np.pi * 0.37 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 7))
    signal = envelope * tone
    peak = float(np.max(np.abs(signal))) or 1.0
    return (0.5 * signal / peak).astype(np.float32)


def text_envelope(text: str, sample_rate: int) -> np.ndarray:
    """Loudness over time: a bump per letter run, silence at spaces and punctuation."""
    text = text.strip() or "."
    n = round(speech_duration(text) * sample_rate)
    per_char = n / len(text)
    env = np.zeros(n, dtype=np.float64)
    i = 0
    while i < len(text):
        if not text[i].isalnum():
            i += 1
            continue
        j = i
        while j < len(text) and text[j].isalnum() and j - i < 3:  # syllable-sized runs
            j += 1
        start, end = round(i * per_char), round(j * per_char)
        if end > start:
            env[start:end] = np.hanning(end - start) ** 0.5
        i = j
    return env


def synthesize_speech(text: str, voice_id: str, out_path: Path, sample_rate: int = 24000) -> Path:
    """Write the synthetic voice saying ``text`` as a mono 16-bit WAV; same input, same bytes."""
    signal = voice_signal(text_envelope(text, sample_rate), sample_rate, _pitch(voice_id))
    write_wav(signal, sample_rate, out_path)
    return out_path


def write_wav(signal: np.ndarray, sample_rate: int, out_path: Path) -> None:
    """Mono float samples (-1..1) to a 16-bit WAV, written atomically."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.part")
    pcm = (np.clip(signal, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    tmp.replace(out_path)
