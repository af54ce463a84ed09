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
import hashlib
import json
import os
import re
import stat
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

from airflow_provider_sync._compat import is_local_path
from airflow_provider_sync.describe import BASE64 as _BASE64
from airflow_provider_sync.describe import describe_source
from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.paths import MediaRoots, TemplatedPaths, check_source

MediaKind = Literal["video", "audio"]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

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
    :param version: the file's content identity: ``<size>:sha256:<hex>`` computed by reading
        the file, or ``<size>:etag:<value>`` when the object store reports a content hash. Part
        of the job fingerprint, so a file replaced under the same name (even with the same size
        and modification time) makes a new job, and one rewritten with identical bytes does not.
    :param location: where to read the file, when it differs from ``source`` (a path from a
        template, resolved when it was checked against the allowed media roots).
    """

    field: str
    source: str
    kind: MediaKind
    mime: str
    size: int
    version: str
    location: str = ""

    def open(self) -> IO[bytes]:
        """Open the file for reading, locally or through Airflow's object storage."""
        path = _path(self.location or self.source)
        return path.open("rb")


def _path(source: str) -> Any:
    if "://" in source and not source.startswith("file://"):
        from airflow_provider_sync._compat import ObjectStoragePath

        return ObjectStoragePath(source)
    return Path(source.removeprefix("file://")).expanduser()


def inspect_local(
    source: str, field: str, kind: MediaKind, *, location: str | None = None, identify: bool = True
) -> LocalMedia:
    """Check a file input before anything is sent: it exists, its type and size are allowed.

    Reads the file once to compute its content identity (see :attr:`LocalMedia.version`),
    unless its object store reports a content hash.

    :param location: where to read it, if not ``source`` (see :func:`paths.check_source`).
    :param identify: compute the content identity (``False``: only check, ``version`` is the
        size alone).
    :raises SyncValidationError: naming ``field`` and what is allowed.
    """
    types = VIDEO_TYPES if kind == "video" else AUDIO_TYPES
    shown = describe_source(source)
    suffix = PurePosixPath(source.split("?", 1)[0]).suffix.lower()
    if suffix not in types:
        raise SyncValidationError(
            f"{field}: {shown!r} is neither a Runware media UUID nor an http(s) URL, so it is read "
            f"as a file to upload, and {suffix or 'no extension'!r} is not an allowed {kind} type; "
            f"allowed: {', '.join(sorted(types))}"
        )
    try:
        path = _path(location or source)
        limit = MAX_UPLOAD_BYTES[kind] if identify else 0  # past the limit: not read
        size, version = _size_and_identity(path, path.stat(), limit)
    except FileNotFoundError:
        raise SyncValidationError(f"{field}: file {shown!r} does not exist") from None
    except IsADirectoryError:
        raise SyncValidationError(f"{field}: {shown!r} is a folder, not a file") from None
    except (OSError, ValueError) as exc:
        raise SyncValidationError(f"{field}: cannot read {shown!r}: {type(exc).__name__}") from None
    if size <= 0:
        raise SyncValidationError(f"{field}: file {shown!r} is empty")
    limit = MAX_UPLOAD_BYTES[kind]
    if size > limit:
        raise SyncValidationError(
            f"{field}: file {shown!r} is {size / 1024**2:.1f} MiB; the {kind} upload limit is "
            f"{limit / 1024**2:.0f} MiB"
        )
    return LocalMedia(
        field=field,
        source=source,
        kind=kind,
        mime=types[suffix],
        size=size,
        version=version,
        location=location if location not in (None, source) else "",
    )


#: fsspec ``info`` keys that are hashes of the content itself (GCS md5/crc32c, S3's ETag).
#: Azure's and GCS's lowercase ``etag`` change on every write, identical bytes or not.
_CONTENT_HASH_KEYS = ("md5Hash", "crc32c", "ETag")


def _size_and_identity(path: Any, result: Any, limit: int) -> tuple[int, str]:
    if isinstance(result, os.stat_result):
        if not _is_regular_file(result):
            raise IsADirectoryError(str(path))
        size = result.st_size
    else:
        # fsspec's info dict: keys differ per filesystem.
        info = dict(result) if not isinstance(result, dict) else result
        if info.get("type") == "directory":
            raise IsADirectoryError(str(path))
        size = int(info.get("size") or info.get("Size") or 0)
        stamp = next((str(info[k]).strip('"') for k in _CONTENT_HASH_KEYS if info.get(k)), "")
        if stamp:
            return size, f"{size}:etag:{stamp}"
    if size <= 0 or size > limit:
        return size, f"{size}:"  # refused by the caller; do not read it
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return size, f"{size}:sha256:{digest.hexdigest()}"


def _is_regular_file(info: os.stat_result) -> bool:
    # Not a folder, device or pipe: reading /dev/zero "to upload" would never end.
    return stat.S_ISREG(info.st_mode)


def find_local_media(
    request: dict[str, Any],
    roots: MediaRoots | None = None,
    templated: TemplatedPaths | None = None,
    *,
    identify: bool = True,
) -> list[LocalMedia]:
    """The inputs of a ``videoInference`` task that must be uploaded first (validated).

    :param roots: where inputs named by run-time values may be read (see :mod:`.paths`).
    :param templated: which inputs were run-time values; ``None``: all were literal.
    :param identify: read each file to compute its content identity (``False`` when the run
        fails anyway and only the paths' problems are wanted).
    :raises SyncValidationError: listing every missing or refused file, before any request
        is sent.
    """
    roots = roots or MediaRoots()
    inputs = request.get("inputs", {})
    wanted: list[tuple[str, str, MediaKind, bool]] = []
    video = inputs.get("video")
    if isinstance(video, str) and not is_remote(video):
        wanted.append((video, "video", "video", bool(templated and templated.video)))
    for field, source, runtime in audio_sources(request, templated):
        if not is_remote(source):
            wanted.append((source, field, "audio", runtime))
    found: list[LocalMedia] = []
    problems: list[str] = []
    for source, field, kind, runtime in wanted:
        try:
            where = check_source(source, field, roots, from_template=runtime)
            found.append(inspect_local(source, field, kind, location=where, identify=identify))
        except SyncValidationError as exc:
            problems += exc.problems
    if problems:
        raise SyncValidationError(problems)
    return found


def audio_sources(
    request: dict[str, Any], templated: TemplatedPaths | None = None
) -> list[tuple[str, str, bool]]:
    """``(field, source, from_template)`` of every audio file a task names, in either shape.

    lipsync-2, lipsync-2-pro and react-1 list ``inputs.audio``; sync-3 names one
    ``inputs.audio`` string and gives each of its ``settings.segments`` its own ``audio``.
    """
    inputs = request.get("inputs", {})
    audio = inputs.get("audio") or []
    if isinstance(audio, str):
        found = [("audio", audio, bool(templated and templated.audio_source(0, 1)))]
    else:
        found = [
            (
                f"audio[{n}].source (id {item.get('id')!r})",
                item["source"],
                bool(templated and templated.audio_source(n, len(audio))),
            )
            for n, item in enumerate(audio)
            if isinstance(item.get("source"), str)
        ]
    for n, seg in enumerate((request.get("settings") or {}).get("segments") or []):
        if isinstance(seg.get("audio"), str):
            found.append((f"segments[{n}].audio", seg["audio"], bool(templated and templated.segments)))
    return found


def upload_body(task_uuid: str, media: LocalMedia) -> Iterator[bytes]:
    """The JSON body of a ``mediaStorage`` upload, generated chunk by chunk from the file.

    The file is hashed again as it streams: if its content is no longer what the job's
    fingerprint was computed from, the body is cut off before it is complete (so Runware
    stores nothing) and :class:`SyncValidationError` is raised.
    """
    head = json.dumps(
        [{"taskType": "mediaStorage", "taskUUID": task_uuid, "operation": "upload", "media": "@"}]
    )
    before, after = head.split('"@"')
    expected = media.version.split(":sha256:", 1)[1] if ":sha256:" in media.version else None
    digest = hashlib.sha256()
    yield f'{before}"data:{media.mime};base64,'.encode()
    with media.open() as stream:
        while chunk := stream.read(CHUNK):
            # Object stores may return short reads; keep chunks a multiple of 3 bytes.
            while len(chunk) % 3 and (more := stream.read(3 - len(chunk) % 3)):
                chunk += more
            digest.update(chunk)
            yield base64.b64encode(chunk)
    if expected is not None and digest.hexdigest() != expected:
        raise SyncValidationError(
            f"{media.field}: {describe_source(media.source)!r} changed while it was being uploaded; "
            "nothing was submitted. Run the task again once the file is complete"
        )
    yield f'"{after}'.encode()


def replace_sources(request: dict[str, Any], uploaded: dict[str, str]) -> dict[str, Any]:
    """A copy of ``request`` with uploaded file sources replaced by their media UUIDs."""
    inputs = dict(request["inputs"])
    if inputs.get("video") in uploaded:
        inputs["video"] = uploaded[inputs["video"]]
    if isinstance(inputs.get("audio"), str):
        inputs["audio"] = uploaded.get(inputs["audio"], inputs["audio"])
    elif inputs.get("audio"):
        inputs["audio"] = [
            {**item, "source": uploaded.get(item["source"], item["source"])} for item in inputs["audio"]
        ]
    out = {**request, "inputs": inputs}
    settings = request.get("settings")
    if isinstance(settings, dict) and settings.get("segments"):
        segments = [{**s, "audio": uploaded.get(s["audio"], s["audio"])} for s in settings["segments"]]
        out["settings"] = {**settings, "segments": segments}
    return out


def output_target(output_path: str, task_uuid: str, output_format: str) -> str:
    """Where to save the video: ``output_path``, or a file named after the job inside it."""
    if output_path.endswith("/"):
        return f"{output_path}{task_uuid}.{output_format.lower()}"
    return output_path


def save_output(download: Callable[[str], int], target: str, *, overwrite: bool = False) -> int:
    """Save a video through ``download(path)`` to ``target``; return the byte count.

    Locally the video is first downloaded to a hidden name in the target's folder, then put in
    place: with ``overwrite`` by an atomic rename, otherwise by a hard link that fails if
    ``target`` appeared meanwhile (a concurrent run, say), so an existing file is never
    replaced. Object stores offer no such primitive: the existence check comes right before.

    :raises SyncValidationError: when ``target`` exists and ``overwrite`` is false.
    """
    path = _path(target)
    if not is_local_path(path):
        if not overwrite and path.exists():
            raise _exists_error(target)
        return download(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / f".{path.name}.{uuid.uuid4().hex}.download"
    try:
        written = download(str(staging))
        if overwrite:
            os.replace(staging, path)
        else:
            _link_no_clobber(staging, path, target)
    finally:
        staging.unlink(missing_ok=True)
    return written


def _link_no_clobber(staging: Path, path: Path, target: str) -> None:
    try:
        os.link(staging, path)  # fails if anything, even a dangling symlink, has the name
    except FileExistsError:
        raise _exists_error(target) from None
    except OSError:
        # No hard links here (some network or FUSE file systems): reserve the name exclusively,
        # then rename over our own empty placeholder.
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            raise _exists_error(target) from None
        os.replace(staging, path)


def _exists_error(target: str) -> SyncValidationError:
    return SyncValidationError(
        f"output_path: {describe_source(target)!r} already exists and is not replaced; set "
        "overwrite=True on the operator to replace it (the render itself is in the video_url XCom)"
    )


def save_stream(chunks: Iterator[bytes], target: str) -> int:
    """Write ``chunks`` to ``target`` (a path or object-storage URL); return the byte count.

    Local files are written to a temporary name and renamed at the end, so a reader never
    sees half a video and a failed download leaves nothing behind.
    """
    path = _path(target)
    if is_local_path(path):
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
