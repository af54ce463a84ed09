"""``hook_params``: the task's own retry and timeout settings, over its connection's."""

from __future__ import annotations

import httpx
import pytest
import respx

from airflow_provider_sync.exceptions import RunwareTransientError, SyncValidationError
from airflow_provider_sync.operators.sync import SyncLipsyncOperator

from .conftest import BASE_URL, FakeTI

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"


def lipsync(**kwargs: object) -> SyncLipsyncOperator:
    return SyncLipsyncOperator(task_id="lipsync", video=VIDEO, audio=AUDIO, deferrable=False, **kwargs)  # type: ignore[arg-type]


def test_the_operators_hook_takes_its_settings(runware_conn: str) -> None:
    # The connection says max_attempts=3, retry waits 0.01-0.02 s.
    op = lipsync(hook_params={"max_attempts": 2, "timeout": 5, "retry_max_wait": 0.03})
    s = op.hook.settings
    assert (s.max_attempts, s.timeout, s.retry_min_wait, s.retry_max_wait) == (2, 5.0, 0.01, 0.03)
    assert lipsync().hook.settings.max_attempts == 3


def test_the_task_tries_each_request_as_often_as_hook_params_say(runware_conn: str) -> None:
    with respx.mock:
        route = respx.post(BASE_URL).mock(return_value=httpx.Response(503, json={"errors": []}))
        with pytest.raises(RunwareTransientError):
            lipsync(hook_params={"max_attempts": 2}).execute({"ti": FakeTI()})  # type: ignore[arg-type]
    # The probe for an earlier job (2 tries), then the submission (2 tries).
    assert route.call_count == 4


@pytest.mark.parametrize(
    ("hook_params", "fragment"),
    [
        ({"max_attempts": "lots"}, "hook_params: max_attempts: 'lots' is not a whole number"),
        ({"timeout": 0}, "hook_params: timeout: 0 is out of range"),
        ({"api_key": "x"}, "hook_params: 'api_key' is not a hook setting"),
        (["timeout", 5], "hook_params: ['timeout', 5] is not a dict"),
    ],
)
def test_bad_hook_params_fail_when_the_dag_is_parsed(hook_params: object, fragment: str) -> None:
    with pytest.raises(SyncValidationError) as err:
        lipsync(hook_params=hook_params)
    assert fragment in str(err.value)
