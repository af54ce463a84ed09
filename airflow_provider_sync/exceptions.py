"""Exceptions raised by the Sync provider, and which of them are retried.

The class tree. On the right: who tries again after each one ("never" means the class is an
``AirflowFailException``, so Airflow fails the task without using its ``retries``)::

    ValueError, AirflowFailException
    +-- SyncValidationError ............... never: the same input would fail again
    AirflowException
    +-- RunwareError
        +-- RunwareTransientError ......... the hook, within each HTTP call; then Airflow
        +-- RunwareAPIError ............... never (also an AirflowFailException)
        |   +-- RunwareAuthError .......... never: fix the key
        |   +-- RunwareInsufficientCreditsError  never: the quota family; top up, then clear
        |   +-- RunwareModerationError .... never: the moderation family; change the content
        +-- RunwareJobError ............... Airflow: the retry submits one new job
        |   +-- RunwareJobCancelledError .. never (also an AirflowFailException): the job was
        |   |                               cancelled; a retry would only re-attach to it
        |   +-- RunwareUploadFailedError .. never (also an AirflowFailException): rendered and
        |   |                               paid, but Runware's PUT to uploadEndpoint failed
        |   +-- RunwareWaitedJobError ..... never (also an AirflowFailException): a job that
        |                                   SyncRenderSensor waited for failed
        +-- RunwareTimeoutError ........... Airflow: the retry re-attaches to the same job
            +-- RunwareSensorTimeoutError . never (also an AirflowSensorTimeout): the sensor's
                                            ``timeout`` passed; ``soft_fail`` skips instead

* :class:`SyncValidationError`: the user's parameters are wrong. Raised before any HTTP
  request is made (at DAG parse time for literal values, at the start of ``execute`` for
  templated ones).
* :class:`RunwareTransientError`: HTTP 429, 408 or 5xx, a dropped connection, a garbled or
  too slow answer. The hook retries it itself, with backoff, up to the connection's
  ``max_attempts`` and within the caller's deadline. While a job is being waited for it never
  ends the wait (the next poll tries again); raised from a submission, Airflow's task retries
  apply, and the retry re-attaches to the job if it was created.
* :class:`RunwareAPIError` and subclasses: Runware refused the request itself, the key
  (or its absence: code ``missingApiKey``), the account's credit or quota, or the content
  (moderation); or the finished video's download answered 4xx.
* :class:`RunwareJobError`: the job ran and ended in error. A retry skips that job and
  submits the next generation of the task's deterministic job UUID (``idempotency.py``) --
  except after a cancelled job or a failed delivery, which never start a new paid render by
  themselves.
* :class:`RunwareTimeoutError`: the operator's ``timeout`` passed; the job may still finish.

:class:`~airflow_provider_sync.sensors.sync.SyncRenderSensor` never submits, so retrying it
cannot change a job's outcome: a failed job it waited for fails it without retries (with the
job's own class when that is never retried anyway, else :class:`RunwareWaitedJobError`), and
its ``timeout`` is Airflow's sensor timeout (:class:`RunwareSensorTimeoutError`).

Which Runware codes land in which class is listed, with sources, in ``docs/errors.md``.

Every :class:`RunwareError` carries what Runware said (``code``, ``message``,
``parameter``, ``task_uuid``, ``task_type``, ``status_code``), so a job can be looked up
later. None of them ever contains the API key.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_sync._compat import AirflowException, AirflowFailException, AirflowSensorTimeout


class SyncValidationError(ValueError, AirflowFailException):
    """Parameters for a Sync model are invalid; nothing was sent to Runware.

    :param problems: one human-readable line per problem, each naming the field.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            text = f"Invalid Sync parameters: {self.problems[0]}"
        else:
            text = "Invalid Sync parameters:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


class RunwareError(AirflowException):
    """An error reported by Runware, or a failure to reach it.

    :param message: Runware's message (or a description of the transport failure).
    :param code: Runware's short error code, e.g. ``invalidApiKey``.
    :param parameter: the request parameter Runware blamed, when it said.
    :param task_uuid: the task the error is about, when known.
    :param task_type: the task type the error is about, when known.
    :param status_code: the HTTP status of the answer, when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        parameter: str | None = None,
        task_uuid: str | None = None,
        task_type: str | None = None,
        status_code: int | None = None,
        allowed_values: list[Any] | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.parameter = parameter
        self.task_uuid = task_uuid
        self.task_type = task_type
        # Shadows AirflowException's class-level ``status_code`` (always 500): the real one.
        self.status_code: int | None = status_code  # type: ignore[assignment]
        self.allowed_values = allowed_values
        super().__init__(self._describe())

    def _describe(self) -> str:
        head = f"Runware error {self.code}: {self.message}" if self.code else f"Runware error: {self.message}"
        details = []
        if self.parameter:
            details.append(f"parameter={self.parameter}")
        if self.allowed_values:
            details.append("allowed values: " + ", ".join(map(str, self.allowed_values)))
        if self.task_uuid:
            details.append(f"taskUUID={self.task_uuid}")
        if self.status_code:
            details.append(f"HTTP {self.status_code}")
        return f"{head} ({'; '.join(details)})" if details else head

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able form, used in trigger events."""
        return {
            "code": self.code,
            "message": self.message,
            "parameter": self.parameter,
            "task_uuid": self.task_uuid,
            "task_type": self.task_type,
            "status_code": self.status_code,
        }


class RunwareTransientError(RunwareError):
    """A fault worth retrying: rate limiting, a 5xx, a dropped connection, a garbled answer.

    :param retry_after: seconds the server asked us to wait, when it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class RunwareAPIError(RunwareError, AirflowFailException):
    """Runware rejected the request itself (invalid parameter, unknown model ...).

    Retrying the same request cannot succeed, so Airflow fails the task without retries.
    """


class RunwareAuthError(RunwareAPIError):
    """The API key is missing, wrong or revoked."""


class RunwareInsufficientCreditsError(RunwareAPIError):
    """The quota family: the account (or the model's provider behind Runware) has not enough
    credit, balance or quota for the job (``insufficientCredits``, ``quotaExceeded``,
    ``paymentRequired``, HTTP 402 ...). Retrying cannot help until someone pays."""


class RunwareModerationError(RunwareAPIError):
    """The moderation family: Runware or the model's provider refused the content
    (``contentPolicyViolation``, ``moderationFailed``, ``nsfwContentDetected`` ...).

    The same inputs would be refused again, so Airflow fails the task without retries.
    """


class RunwareJobError(RunwareError):
    """A submitted job ended in error on Runware's side.

    Airflow may retry this one: a retry submits a fresh job under a new deterministic
    task UUID (see ``docs/idempotency.md``).
    """


class RunwareJobCancelledError(RunwareJobError, AirflowFailException):
    """The job was cancelled at Runware (``taskCancelled``) before it finished.

    Someone stopped it on purpose: nothing here starts a new paid render by itself. A retry
    re-attaches to the cancelled job and fails again; ``force_new_job=True`` (or a changed
    request) renders afresh.
    """


class RunwareUploadFailedError(RunwareJobError, AirflowFailException):
    """Runware rendered the job (and billed it) but could not ``PUT`` the video to the task's
    ``uploadEndpoint`` (``uploadFailed``).

    Never a reason for a second paid render: the video may still be fetched from
    :attr:`video_url` when Runware's answer carried one.

    :param video_url: the ``videoURL`` Runware's answer carried, if any.
    :param video_uuid: the ``videoUUID`` Runware's answer carried, if any.
    """

    def __init__(
        self, message: str, *, video_url: str | None = None, video_uuid: str | None = None, **kwargs: Any
    ) -> None:
        self.video_url = video_url
        self.video_uuid = video_uuid
        super().__init__(message, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able form, with the video's URL and UUID when Runware gave them."""
        return {**super().to_dict(), "video_url": self.video_url, "video_uuid": self.video_uuid}


class RunwareTimeoutError(RunwareError):
    """The job did not finish before the operator's ``timeout``.

    The job may still finish at Runware: the message names the task UUID to look it up.
    """


class RunwareWaitedJobError(RunwareJobError, AirflowFailException):
    """A job that :class:`~airflow_provider_sync.sensors.sync.SyncRenderSensor` waited for
    ended in error (or Runware never knew its task UUID: code ``taskNotFound``).

    The sensor submits nothing, so a retry would only find the same error: Airflow fails it
    without retries. ``code`` and ``message`` are Runware's; clearing the task that submitted
    the job renders it again (as a new job).
    """


class RunwareSensorTimeoutError(RunwareTimeoutError, AirflowSensorTimeout):
    """:class:`~airflow_provider_sync.sensors.sync.SyncRenderSensor`'s ``timeout`` passed
    before the job ended.

    An Airflow sensor timeout: the sensor fails without retries (or is skipped with
    ``soft_fail=True``). The job may still finish at Runware: the message names its task
    UUID, and clearing the sensor waits for the same job again.
    """
