"""Media in and out: which inputs need uploading, streamed uploads, streamed output downloads.

An input (``video`` or an audio ``source``) is sent as it is when Runware can fetch it
itself: a media UUID, an ``http(s)`` URL, a data URI. Anything else names a file we can
read -- a local path, a ``file://`` URL, or an object-storage URL (``s3://``, ``gs://`` ...)
that Airflow's :class:`~airflow.sdk.ObjectStoragePath` understands -- and is uploaded first
with Runware's ``mediaStorage`` task. Uploads and downloads are streamed in fixed-size chunks,
so memory use does not grow with the file. Limits are in ``docs/media.md``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

from airflow_provider_sync.exceptions import SyncValidationError

MediaKind = Literal["video", "audio"]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]{128,}$")

#: File extensions we upload, and the MIME type we declare in the data URI.
VIDEO_TYPES: dict[str, str] = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
}
AUDIO_TYPES: dict[str, str] = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".ogg": "audio/ogg",
    ".opus": "audio/opus",
    ".flac": "audio/flac",
    ".webm": "audio/webm",
}
#: Runware does not publish upload limits; these are ours (see docs/media.md).
MAX_UPLOAD_BYTES: dict[MediaKind, int] = {"video": 1024**3, "audio": 200 * 1024**2}
#: Bytes read per chunk; a multiple of 3 so each chunk encodes to whole base64 quads.
CHUNK = 3 * 128 * 1024


def is_remote(source: str) -> bool:
    """True when Runware can use ``source`` as it is (no upload needed)."""
    text = source.strip()
    lowered = text.lower()
    return bool(
        _UUID.match(text)
        or lowered.startswith(("http://", "https://", "data:"))
        or ("/" not in text.rstrip("=") and _BASE64.match(text))
    )


@dataclass(frozen=True)
class LocalMedia:
    """A file to upload before submitting.

    :param field: the operator parameter it came from, for error messages (``audio[0].source``).
    :param source: what the user wrote.
    :param kind: ``video`` or ``audio``.
    :param mime: the MIME type declared to Runware.
    :param size: bytes.
    :param version: what changes when the file's content does (size and mtime or ETag); part
        of the job fingerprint, so a re-rendered source file is not mistaken for the old one.
    """

    field: str
    source: str
    kind: MediaKind
    mime: str
    size: int
    version: str

    def open(self) -> IO[bytes]:
        """Open the file for reading, locally or through Airflow's object storage."""
        path = _path(self.source)
        return path.open("rb")


def _path(source: str) -> Any:
    if "://" in source and not source.startswith("file://"):
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(source)
    return Path(source.removeprefix("file://")).expanduser()


def inspect_local(source: str, field: str, kind: MediaKind) -> LocalMedia:
    """Check a file input before anything is sent: it exists, its type and size are allowed.

    :raises SyncValidationError: naming ``field`` and what is allowed.
    """
    types = VIDEO_TYPES if kind == "video" else AUDIO_TYPES
    suffix = PurePosixPath(source.split("?", 1)[0]).suffix.lower()
    if suffix not in types:
        raise SyncValidationError(
            f"{field}: {source!r} is neither a Runware media UUID nor an http(s) URL, so it is read "
            f"as a file to upload, and {suffix or 'no extension'!r} is not an allowed {kind} type; "
            f"allowed: {', '.join(sorted(types))}"
        )
    try:
        path = _path(source)
        stat = path.stat()
    except FileNotFoundError:
        raise SyncValidationError(f"{field}: file {source!r} does not exist") from None
    except (OSError, ValueError) as exc:
        raise SyncValidationError(f"{field}: cannot read {source!r}: {exc}") from None
    size, version = _size_and_version(stat)
    if size <= 0:
        raise SyncValidationError(f"{field}: file {source!r} is empty")
    limit = MAX_UPLOAD_BYTES[kind]
    if size > limit:
        raise SyncValidationError(
            f"{field}: file {source!r} is {size / 1024**2:.1f} MiB; the {kind} upload limit is "
            f"{limit / 1024**2:.0f} MiB"
        )
    return LocalMedia(field=field, source=source, kind=kind, mime=types[suffix], size=size, version=version)


def _size_and_version(stat: Any) -> tuple[int, str]:
    if isinstance(stat, os.stat_result):
        return stat.st_size, f"{stat.st_size}:{stat.st_mtime_ns}"
    # fsspec's info dict: keys differ per filesystem.
    info = dict(stat) if not isinstance(stat, dict) else stat
    size = int(info.get("size") or info.get("Size") or 0)
    keys = ("ETag", "etag", "md5Hash", "mtime", "LastModified", "updated")
    stamp = next((str(info[k]) for k in keys if info.get(k)), "")
    return size, f"{size}:{stamp}"


def find_local_media(request: dict[str, Any]) -> list[LocalMedia]:
    """The inputs of a ``videoInference`` task that must be uploaded first (validated)."""
    inputs = request.get("inputs", {})
    found: list[LocalMedia] = []
    video = inputs.get("video")
    if isinstance(video, str) and not is_remote(video):
        found.append(inspect_local(video, "video", "video"))
    for n, item in enumerate(inputs.get("audio") or []):
        source = item.get("source")
        if isinstance(source, str) and not is_remote(source):
            found.append(inspect_local(source, f"audio[{n}].source (id {item.get('id')!r})", "audio"))
    return found


def upload_body(task_uuid: str, media: LocalMedia) -> Iterator[bytes]:
    """The JSON body of a ``mediaStorage`` upload, generated chunk by chunk from the file."""
    head = json.dumps(
        [{"taskType": "mediaStorage", "taskUUID": task_uuid, "operation": "upload", "media": "@"}]
    )
    before, after = head.split('"@"')
    yield f'{before}"data:{media.mime};base64,'.encode()
    with media.open() as stream:
        while chunk := stream.read(CHUNK):
            # Object stores may return short reads; keep chunks a multiple of 3 bytes.
            while len(chunk) % 3 and (more := stream.read(3 - len(chunk) % 3)):
                chunk += more
            yield base64.b64encode(chunk)
    yield f'"{after}'.encode()


def replace_sources(request: dict[str, Any], uploaded: dict[str, str]) -> dict[str, Any]:
    """A copy of ``request`` with uploaded file sources replaced by their media UUIDs."""
    inputs = dict(request["inputs"])
    if inputs.get("video") in uploaded:
        inputs["video"] = uploaded[inputs["video"]]
    if inputs.get("audio"):
        inputs["audio"] = [
            {**item, "source": uploaded.get(item["source"], item["source"])} for item in inputs["audio"]
        ]
    return {**request, "inputs": inputs}


def output_target(output_path: str, task_uuid: str, output_format: str) -> str:
    """Where to save the video: ``output_path``, or a file named after the job inside it."""
    if output_path.endswith("/"):
        return f"{output_path}{task_uuid}.{output_format.lower()}"
    return output_path


def save_stream(chunks: Iterator[bytes], target: str) -> int:
    """Write ``chunks`` to ``target`` (a path or object-storage URL); return the byte count.

    Local files are written to a temporary name and renamed at the end, so a reader never
    sees half a video and a failed download leaves nothing behind.
    """
    path = _path(target)
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = str(path.parent / f".{path.name}.{uuid.uuid4().hex}.part")
        # os.open with 0o666 lets the umask decide, as for any file the user creates.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                written = _copy(chunks, out.write)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return written
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        return _copy(chunks, out.write)


def _copy(chunks: Iterator[bytes], write: Callable[[bytes], Any]) -> int:
    total = 0
    for chunk in chunks:
        write(chunk)
        total += len(chunk)
    return total
