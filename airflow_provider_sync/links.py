"""Extra links shown on Sync tasks in the Airflow UI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_sync._compat import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

#: XCom key holding the finished video's URL.
VIDEO_URL_XCOM_KEY = "video_url"


class SyncOutputVideoLink(BaseOperatorLink):
    """ "Output video": the URL of the video Runware rendered for this task instance."""

    name = "Output video"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The video URL the task pushed to XCom, or ``""`` before it finished."""
        from airflow_provider_sync._compat import XCom

        url = XCom.get_value(ti_key=ti_key, key=VIDEO_URL_XCOM_KEY)
        return str(url) if url else ""
