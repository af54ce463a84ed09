"""Which files run-time values may name: the path policy for media inputs and saved outputs.

Whoever may trigger a DAG chooses ``dag_run.conf``, so a path that reaches the operator
through a template (or XCom, or a mapped argument) is not the DAG author's choice. Such a
path may only read from or write under an *allowed media root*: a local folder or an
object-storage prefix declared by the deployment (``[sync] allowed_media_roots``) or by the
DAG author (the operators' ``allowed_media_roots`` argument). Paths written literally in DAG
code are trusted as they are.

For a path from a template, this module

* refuses ``~`` (whose home?), relative paths (relative to what?), and object-storage URLs
  that pick an Airflow connection (``s3://conn_id@bucket/key``), chain file systems
  (``::``), carry a query or fragment, or contain ``.``/``..`` segments;
* resolves symlinks and ``..`` of local paths before comparing them with the roots, and
  hands back the resolved path, so what is checked is what is opened.

Every saved output, literal or not, must have a video file name matching the output format,
and an existing file is only replaced with ``overwrite=True``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from airflow_provider_sync.describe import describe_source
from airflow_provider_sync.exceptions import SyncValidationError

#: The provider's configuration section and option (declared in ``get_provider_info``).
CONFIG_SECTION = "sync"
CONFIG_OPTION = "allowed_media_roots"
CONFIG_ENV = f"AIRFLOW__{CONFIG_SECTION.upper()}__{CONFIG_OPTION.upper()}"

#: The file name suffix each output format must be saved under.
VIDEO_SUFFIXES: dict[str, str] = {"MP4": ".mp4", "WEBM": ".webm", "MOV": ".mov"}


def video_format_of(name: str | None) -> str | None:
    """The output format a file name or URL path ends in (``MP4``, ``WEBM``, ``MOV``), if any."""
    path = str(name or "").split("?", 1)[0].split("#", 1)[0].lower()
    return next((fmt for fmt, suffix in VIDEO_SUFFIXES.items() if path.endswith(suffix)), None)


# fsspec protocols that are the worker's own disk: checked as local paths, not as URLs.
_LOCAL_SCHEMES = ("file://", "local://")


def _how_to_allow(root: str) -> str:
    return (
        f"To allow it, add {root!r} (or a folder above it) to [{CONFIG_SECTION}] {CONFIG_OPTION} "
        f"(environment variable {CONFIG_ENV}) or to the operator's allowed_media_roots argument"
    )


@dataclass(frozen=True)
class MediaRoots:
    """Local folders and object-storage prefixes that run-time paths may use.

    :param local: resolved, absolute local folders.
    :param remote: object-storage prefixes such as ``s3://bucket/renders/`` (always ending in ``/``).
    """

    local: tuple[Path, ...] = ()
    remote: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str], origin: str) -> MediaRoots:
        """Parse root declarations: absolute folders (``~`` allowed) or object-storage prefixes.

        :param origin: where the entries were declared, for error messages.
        :raises SyncValidationError: for a relative folder or an unusable prefix.
        """
        if isinstance(entries, str):
            # One string is one comma-separated list, never a sequence of characters ("/" ...).
            entries = entries.replace("\n", ",").split(",")
        local: list[Path] = []
        remote: list[str] = []
        for raw in entries:
            entry = str(raw).strip()
            if not entry:
                continue
            if _is_url(entry) and not entry.startswith(_LOCAL_SCHEMES):
                remote.append(_root_prefix(entry, origin))
                continue
            folder = Path(_strip_local_scheme(entry)).expanduser()
            if not folder.is_absolute():
                raise SyncValidationError(
                    f"{origin}: {entry!r} is not an absolute folder; media roots must be absolute"
                )
            local.append(folder.resolve())
        return cls(tuple(dict.fromkeys(local)), tuple(dict.fromkeys(remote)))

    @classmethod
    def configured(cls, extra: Iterable[str] = ()) -> MediaRoots:
        """The deployment's roots (``[sync] allowed_media_roots``) plus ``extra`` (the operator's)."""
        from airflow_provider_sync._compat import conf

        value = conf.get(CONFIG_SECTION, CONFIG_OPTION, fallback="") or ""
        entries = value.replace("\n", ",").split(",")
        deployment = cls.parse(entries, f"[{CONFIG_SECTION}] {CONFIG_OPTION}")
        operator = cls.parse(extra, "allowed_media_roots")
        return cls(
            tuple(dict.fromkeys(deployment.local + operator.local)),
            tuple(dict.fromkeys(deployment.remote + operator.remote)),
        )

    def describe(self) -> str:
        """The roots, for error messages."""
        names = [str(p) for p in self.local] + list(self.remote)
        return ", ".join(names) if names else "none are configured"

    def allows_local(self, path: Path) -> bool:
        """True when the resolved ``path`` is one of the local roots or inside one."""
        return any(path == root or root in path.parents for root in self.local)

    def allows_remote(self, url: str) -> bool:
        """True when ``url`` (already normalised) starts with one of the object-storage prefixes."""
        return any(url.startswith(prefix) or url + "/" == prefix for prefix in self.remote)


@dataclass(frozen=True)
class TemplatedPaths:
    """Which path-bearing parameters were only known at run time.

    A parameter counts as run-time when the DAG gave it as a template, an XCom reference or
    a mapped argument: its value is then not the DAG author's literal choice.

    :param video: ``video`` was a run-time value.
    :param audio: ``audio`` as a whole (``True``/``False``), or one flag per item of a list
        given literally whose sources may be templated one by one.
    :param output_path: ``output_path`` was a run-time value.
    :param segments: ``segments`` was a run-time value (sync-3's segments name audio files).
    """

    video: bool = False
    audio: bool | tuple[bool, ...] = False
    output_path: bool = False
    segments: bool = False

    def audio_source(self, index: int, count: int) -> bool:
        """Whether the source of audio item ``index`` (of ``count`` after rendering) was a run-time value."""
        if isinstance(self.audio, bool):
            return self.audio
        # A rendered list of another length cannot be matched to the literal items: be strict.
        return self.audio[index] if len(self.audio) == count else True


def check_source(source: str, field: str, roots: MediaRoots, *, from_template: bool) -> str:
    """Return where to read the input file ``source`` from, after checking it may be read.

    Literal sources are returned unchanged. Sources from templates must be under ``roots``:
    a local one comes back resolved (symlinks and ``..`` followed), so the checked file is
    the one that is opened.

    :raises SyncValidationError: naming ``field``, the value's folder and how to allow it.
    """
    if not from_template:
        return source
    return _check_runtime(source, field, roots, "read")


def check_target(
    target: str,
    field: str,
    roots: MediaRoots,
    *,
    from_template: bool,
    output_format: str,
    overwrite: bool,
) -> str:
    """Return where to write the video ``target``, after checking it may be written there.

    ``target`` ending in ``/`` is a folder (the file is named after the job later). Otherwise
    its name must end in the suffix of ``output_format``, and it must not exist yet unless
    ``overwrite`` is true. A target from a template must also be under ``roots``.

    :raises SyncValidationError: naming ``field`` and what to change.
    """
    fmt = (output_format or "MP4").upper()
    suffix = VIDEO_SUFFIXES.get(fmt)
    is_folder = target.endswith("/")
    if not is_folder:
        name = posixpath.basename(target.split("?", 1)[0].split("#", 1)[0])
        if suffix is None or not name.lower().endswith(suffix) or name.lower() == suffix:
            raise SyncValidationError(
                f"{field}: {target[:300]!r} is not a {fmt} video file name; the output is only saved under a "
                f"name ending in {suffix or '.mp4/.webm/.mov'} (matching output_format), or into a folder "
                "given with a trailing '/'"
            )
        _refuse_dangling_link(target, field)
    location = _check_runtime(target, field, roots, "write") if from_template else target
    if is_folder and from_template and not location.endswith("/"):
        location += "/"
    if not is_folder:
        # A symlink named x.mp4 may point at x.py: what is written is judged by where it lands.
        _check_resolved_suffix(target, location, field, fmt, suffix)
    if not is_folder and not overwrite and _exists(location):
        raise SyncValidationError(
            f"{field}: {target[:300]!r} already exists and is not replaced; set overwrite=True on the "
            "operator to replace it, or choose another name"
        )
    return location


def _local_path(location: str) -> Path | None:
    """The local file ``location`` names, or ``None`` for an object-storage URL."""
    if _is_url(location) and not location.startswith(_LOCAL_SCHEMES):
        return None
    raw = _strip_local_scheme(location.strip())
    return Path(raw) if os.path.isabs(raw) else None


def _refuse_dangling_link(target: str, field: str) -> None:
    """Refuse an output whose last part is a symlink to nothing.

    Such a name passes every existence check (nothing is there yet), yet writing through it
    creates whatever file the link names, wherever that is: resolving it first would judge the
    link's destination, not the name the DAG gave. Nothing good is meant by one: refuse it.
    """
    path = _local_path(target)
    if path is not None and path.is_symlink() and not path.exists():
        raise SyncValidationError(
            f"{field}: {target[:300]!r} is a symbolic link to a file that does not exist; the "
            "video is not written through it. Remove the link or choose another name"
        )


def _check_resolved_suffix(target: str, location: str, field: str, fmt: str, suffix: str | None) -> None:
    path = _local_path(location)
    if path is None:
        return
    try:
        name = path.resolve().name
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        raise SyncValidationError(f"{field}: {target[:300]!r} is a symbolic link loop") from None
    if suffix is None or not name.lower().endswith(suffix) or name.lower() == suffix:
        raise SyncValidationError(
            f"{field}: {target[:300]!r} resolves (through a symbolic link) to {name[:200]!r}, which is not "
            f"a {fmt} video file name; the output is only saved under a name ending in "
            f"{suffix or '.mp4/.webm/.mov'}"
        )


def _check_runtime(value: str, field: str, roots: MediaRoots, verb: str) -> str:

    text = value.strip()
    where = f"{field}: {describe_source(value, 300)!r} comes from a template (a run-time value)"
    if text.startswith("~") or text.startswith(tuple(s + "~" for s in _LOCAL_SCHEMES)):
        raise SyncValidationError(f"{where}, and '~' is refused there: give an absolute path")
    if _is_url(text) and not text.startswith(_LOCAL_SCHEMES):
        return _check_remote(text, where, roots, verb)
    raw = _strip_local_scheme(text)
    if "\x00" in raw:
        raise SyncValidationError(f"{where}, and holds a NUL character")
    if not os.path.isabs(raw):
        raise SyncValidationError(
            f"{where}, and is a relative path; give an absolute path under an allowed media root "
            f"(allowed: {roots.describe()})"
        )
    folder_only = raw.endswith("/")
    resolved = Path(raw).resolve()  # follows symlinks, then removes '..'
    if roots.allows_local(resolved):
        return str(resolved)
    folder = resolved if folder_only else resolved.parent
    raise SyncValidationError(
        f"{where}, and resolves to {str(resolved)!r}, in the folder {str(folder)!r}, which is outside "
        f"the allowed media roots ({roots.describe()}); the operator may not {verb} it. "
        + _how_to_allow(str(folder))
    )


def _check_remote(url: str, where: str, roots: MediaRoots, verb: str) -> str:
    if "::" in url:
        raise SyncValidationError(f"{where}, and chains file systems ('::'), which is refused there")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise SyncValidationError(
            f"{where}, and selects a connection or user ('...@' before the bucket), which only DAG "
            "code may do: write the URL literally in the DAG, or let the deployment's default "
            "connection for the scheme apply"
        )
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise SyncValidationError(f"{where}, and carries a query or fragment ('?', '#'), refused there")
    segments = parts.path.split("/")
    if any(s in (".", "..") for s in segments):
        raise SyncValidationError(f"{where}, and contains '.' or '..' path segments, refused there")
    normalised = f"{parts.scheme.lower()}://{parts.netloc}{parts.path}"
    if roots.allows_remote(normalised):
        return url
    bucket = f"{parts.scheme.lower()}://{parts.netloc}/"
    folder = normalised if normalised.endswith("/") else posixpath.dirname(normalised) + "/"
    raise SyncValidationError(
        f"{where}, and lies in the bucket {bucket!r} (folder {folder!r}), under none of the allowed "
        f"media roots ({roots.describe()}); the operator may not {verb} it. " + _how_to_allow(folder)
    )


def _root_prefix(entry: str, origin: str) -> str:
    parts = urlsplit(entry)
    if not parts.scheme or not parts.netloc or parts.query or parts.fragment or "::" in entry:
        raise SyncValidationError(f"{origin}: {entry!r} is not an object-storage prefix like 's3://bucket/'")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return f"{parts.scheme.lower()}://{parts.netloc}{path}"


def _is_url(value: str) -> bool:
    return "://" in value


def _strip_local_scheme(value: str) -> str:
    for scheme in _LOCAL_SCHEMES:
        if value.startswith(scheme):
            return value[len(scheme) :]
    return value


def _exists(location: str) -> bool:
    if _is_url(location) and not location.startswith(_LOCAL_SCHEMES):
        from airflow_provider_sync._compat import ObjectStoragePath

        return bool(ObjectStoragePath(location).exists())
    path = Path(_strip_local_scheme(location)).expanduser()
    # A dangling symlink "exists" too: writing there would follow or replace it.
    return path.exists() or path.is_symlink()


__all__ = [
    "CONFIG_ENV",
    "CONFIG_OPTION",
    "CONFIG_SECTION",
    "VIDEO_SUFFIXES",
    "MediaRoots",
    "TemplatedPaths",
    "check_source",
    "check_target",
    "video_format_of",
]
