"""OpenLineage datasets for a render: the video and audio it read, the video it wrote.

Names follow the OpenLineage dataset naming spec: an object ``s3://bucket/key`` is namespace
``s3://bucket`` and name ``key`` (likewise ``gs://``, ``wasbs://``...); a local file is
namespace ``file`` and its absolute path; an http(s) URL is namespace ``scheme://host[:port]``
and its path, never its query (presigned signatures stay out of lineage as out of logs); a
Runware media UUID is namespace ``runware`` and the UUID.

OpenLineage is imported only when :func:`operator_lineage` is called, so the provider works
without ``apache-airflow-providers-openlineage``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_sync.media import audio_sources, is_remote
from airflow_provider_sync.object_storage import parse_object_url

#: Namespace of inputs that are media Runware stores (``mediaUUID``s).
RUNWARE_NAMESPACE = "runware"


def dataset_name(source: str) -> tuple[str, str] | None:
    """``(namespace, name)`` of a media source per the OpenLineage naming spec; ``None`` for
    values that name no dataset (data URIs, raw base64, empty values)."""
    text = str(source or "").strip()
    if not text or text.lower().startswith("data:") or text in ("None", "pending"):
        return None
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme.lower()}://{host}{port}", parts.path or "/"
    if is_remote(text):
        # A media UUID (or inline base64, which names nothing).
        return (RUNWARE_NAMESPACE, text) if "-" in text and len(text) == 36 else None
    if lowered.startswith(("file://", "local://")) or "://" not in text:
        path = text.split("://", 1)[1] if "://" in text else text
        return "file", os.path.abspath(os.path.expanduser(path))
    ref = parse_object_url(text)
    if ref is None:
        return None
    return f"{ref.scheme}://{ref.bucket}", ref.key


def input_sources(request: dict[str, Any]) -> list[str]:
    """The media sources of a ``videoInference`` request: the video, then each audio source."""
    inputs = request.get("inputs") or {}
    return [str(inputs.get("video") or ""), *(source for _field, source, _t in audio_sources(request))]


def operator_lineage(inputs: Iterable[str], outputs: Iterable[str]) -> Any:
    """An ``OperatorLineage`` with one dataset per distinct, nameable input and output.

    :returns: ``airflow.providers.openlineage.extractors.OperatorLineage``.
    :raises ImportError: when the OpenLineage provider is not installed (Airflow only calls
        the operator's lineage method when it is).
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    def datasets(sources: Iterable[str]) -> list[Any]:
        names = [n for n in (dataset_name(s) for s in sources) if n is not None]
        return [Dataset(namespace=ns, name=name) for ns, name in dict.fromkeys(names)]

    return OperatorLineage(inputs=datasets(inputs), outputs=datasets(outputs))


__all__ = ["RUNWARE_NAMESPACE", "dataset_name", "input_sources", "operator_lineage"]
