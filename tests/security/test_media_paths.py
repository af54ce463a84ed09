"""Run-time values cannot steer the worker's file system (issue 10, point 1).

A path that reached the operator through a template may only read from or write under the
allowed media roots; literal paths in DAG code stay trusted. Every refusal happens before
any HTTP request and leaves the file system as it was.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync import media
from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.get_provider_info import get_provider_info
from airflow_provider_sync.operators.sync import SyncLipsyncOperator
from airflow_provider_sync.paths import CONFIG_ENV, MediaRoots, check_source, check_target

from ..operators.conftest import FakeTI
from .conftest import UploadingRunware

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"


def templated(conf: dict[str, Any], **kwargs: Any) -> SyncLipsyncOperator:
    """An operator whose ``video``, ``audio`` and ``output_path`` come from ``dag_run.conf``."""
    params: dict[str, Any] = {
        "task_id": "lipsync",
        "video": "{{ dag_run.conf.get('video', '" + VIDEO + "') }}",
        "audio": [{"id": "a", "source": "{{ dag_run.conf.get('audio', '" + AUDIO + "') }}"}],
        "output_path": "{{ dag_run.conf.get('output_path', '') }}",
        "deferrable": False,
        "poll_interval": 0.01,
    }
    op = SyncLipsyncOperator(**{**params, **kwargs})
    from types import SimpleNamespace

    op.render_template_fields({"dag_run": SimpleNamespace(conf=conf), "params": {}})  # type: ignore[arg-type]
    return op


def refused(op: SyncLipsyncOperator, runware: UploadingRunware, *fragments: str) -> str:
    with pytest.raises(SyncValidationError) as err:
        op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message
    assert runware.tasks == [], "a refused path must fail before any request"
    return message


def media_file(folder: Path, name: str, content: bytes = b"RIFF" + b"\x01" * 500) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


# ---------------------------------------------------------------- outputs


def test_templated_output_path_cannot_overwrite_a_config_file(
    runware: UploadingRunware, allowed: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "airflow" / "airflow.cfg"
    cfg.parent.mkdir()
    cfg.write_text("[core]\n")
    op = templated({"output_path": str(cfg)})
    refused(op, runware, "output_path", "airflow.cfg")
    assert cfg.read_text() == "[core]\n"
    # Even named like a video, a file outside the roots is refused, naming the folder and the fix.
    message = refused(templated({"output_path": str(cfg.with_suffix(".mp4"))}), runware)
    assert f"'{cfg.parent}'" in message
    assert "[sync] allowed_media_roots" in message
    assert CONFIG_ENV in message
    assert "allowed_media_roots argument" in message
    assert not cfg.with_suffix(".mp4").exists()


def test_templated_output_path_cannot_drop_python_into_the_dags_folder(
    runware: UploadingRunware, allowed: Path, tmp_path: Path
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    refused(templated({"output_path": str(dags / "evil.py")}), runware, "not a MP4 video file name")
    refused(templated({"output_path": str(allowed / "evil.py")}), runware, "not a MP4 video file name")
    refused(templated({"output_path": str(dags / "evil.mp4")}), runware, "outside the allowed media roots")
    assert list(dags.iterdir()) == []


@pytest.mark.parametrize(
    "value",
    [
        "../../x.mp4",
        "renders/x.mp4",
        "~/x.mp4",
        "file://~/x.mp4",
        "{root}/../escape.mp4",
        "{root}/a/../../b.mp4",
    ],
)
def test_relative_home_and_dot_dot_paths_are_refused(
    runware: UploadingRunware, allowed: Path, value: str
) -> None:
    refused(templated({"output_path": value.format(root=allowed)}), runware, "output_path")
    assert not (allowed.parent / "escape.mp4").exists()
    assert not (allowed.parent / "b.mp4").exists()


def test_a_symlink_inside_a_root_is_followed_before_the_check(
    runware: UploadingRunware, allowed: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (allowed / "link").symlink_to(outside, target_is_directory=True)
    message = refused(templated({"output_path": str(allowed / "link" / "x.mp4")}), runware)
    assert str(outside) in message
    secret = media_file(outside, "voice.wav")
    refused(templated({"audio": str(allowed / "link" / secret.name)}), runware, "audio[0].source")


def test_a_dangling_symlink_as_the_output_name_is_refused(
    runware: UploadingRunware, allowed: Path, tmp_path: Path
) -> None:
    # The link is named like a video; it points at a file that does not exist yet, inside the
    # root (so the roots alone do not catch it) and named like code.
    link = allowed / "take.mp4"
    link.symlink_to(allowed / "plugin.py")
    refused(templated({"output_path": str(link)}), runware, "symbolic link", "does not exist")
    outside = allowed / "far.mp4"
    outside.symlink_to(tmp_path / "elsewhere" / "far.mp4")
    refused(templated({"output_path": str(outside)}), runware, "symbolic link")
    for literal in (str(link), f"file://{link}"):
        for overwrite in (False, True):
            with pytest.raises(SyncValidationError, match="does not exist"):
                check_target(
                    literal,
                    "output_path",
                    MediaRoots(),
                    from_template=False,
                    output_format="MP4",
                    overwrite=overwrite,
                )
    assert not (allowed / "plugin.py").exists()
    assert not (tmp_path / "elsewhere").exists()
    assert link.is_symlink()  # left as they were
    assert outside.is_symlink()


def test_the_output_suffix_is_checked_on_the_resolved_name(runware: UploadingRunware, allowed: Path) -> None:
    script = media_file(allowed, "job.py", b"print('hi')\n")
    link = allowed / "take.mp4"
    link.symlink_to(script)
    refused(templated({"output_path": str(link)}, overwrite=True), runware, "resolves", "'job.py'")
    with pytest.raises(SyncValidationError, match=r"'job\.py'"):
        check_target(
            str(link), "output_path", MediaRoots(), from_template=False, output_format="MP4", overwrite=True
        )
    assert script.read_bytes() == b"print('hi')\n"
    # A link to a video file is judged by the video's name: allowed, and replaced with overwrite.
    video = media_file(allowed, "old.mp4", b"old render")
    (allowed / "latest.mp4").symlink_to(video)
    assert check_target(
        str(allowed / "latest.mp4"),
        "output_path",
        MediaRoots(),
        from_template=False,
        output_format="MP4",
        overwrite=True,
    ) == str(allowed / "latest.mp4")


def test_an_existing_output_is_never_replaced_unless_overwrite(
    runware: UploadingRunware, allowed: Path
) -> None:
    existing = media_file(allowed, "take.mp4", b"old render")
    refused(templated({"output_path": str(existing)}), runware, "already exists", "overwrite=True")
    assert existing.read_bytes() == b"old render"
    result = templated({"output_path": str(existing)}, overwrite=True).execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert result["output_path"] == str(existing)
    assert existing.read_bytes() == b"\x00video" * 100


def test_allowed_outputs_are_written_with_their_folders(runware: UploadingRunware, allowed: Path) -> None:
    target = allowed / "2026" / "take.mp4"
    result = templated({"output_path": str(target)}).execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert result["output_path"] == str(target)
    assert target.read_bytes() == b"\x00video" * 100
    folder = templated({"output_path": f"{allowed}/batch/"}).execute({"ti": FakeTI(run_id="r2")})  # type: ignore[arg-type]
    assert folder["output_path"] == f"{allowed}/batch/{folder['task_uuid']}.mp4"
    assert [p.name for p in (allowed / "batch").iterdir()] == [f"{folder['task_uuid']}.mp4"]


def test_the_output_name_must_match_the_output_format(runware: UploadingRunware, allowed: Path) -> None:
    refused(
        templated({"output_path": str(allowed / "take.mp4")}, output_format="WEBM"),
        runware,
        "not a WEBM video file name",
        ".webm",
    )
    with pytest.raises(SyncValidationError, match="not a MOV video file name"):
        check_target(
            "/data/x.mp4",
            "output_path",
            MediaRoots(),
            from_template=False,
            output_format="MOV",
            overwrite=False,
        )
    for name in ("/data/.mp4", "/data/x.mp4.sh", "/data/x"):
        with pytest.raises(SyncValidationError):
            check_target(
                name, "output_path", MediaRoots(), from_template=False, output_format="MP4", overwrite=False
            )


def test_a_file_that_appears_during_the_render_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "take.mp4"

    def download(path: str) -> int:
        target.write_bytes(b"written meanwhile")  # e.g. another run with the same output_path
        Path(path).write_bytes(b"new")
        return 3

    with pytest.raises(SyncValidationError, match="already exists"):
        media.save_output(download, str(target))
    assert target.read_bytes() == b"written meanwhile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.mp4"]  # no staging file left
    assert media.save_output(download, str(target), overwrite=True) == 3
    assert target.read_bytes() == b"new"


# ---------------------------------------------------------------- inputs


def test_templated_audio_cannot_upload_another_file_on_disk(
    runware: UploadingRunware, allowed: Path, tmp_path: Path
) -> None:
    other_team = media_file(tmp_path / "other-team", "interview.wav")
    message = refused(templated({"audio": str(other_team)}), runware, "audio[0].source", "outside")
    assert str(other_team.parent) in message
    refused(templated({"audio": f"file://{other_team}"}), runware, "audio[0].source")
    refused(templated({"audio": f"local://{other_team}"}), runware, "audio[0].source")
    refused(templated({"video": str(media_file(tmp_path / "x", "clip.mp4"))}), runware, "video")
    assert runware.uploads == []


def test_templated_inputs_under_a_root_are_uploaded(runware: UploadingRunware, allowed: Path) -> None:
    voice = media_file(allowed, "voice.wav")
    templated({"audio": str(voice)}).execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert len(runware.uploads) == 1
    [job] = runware.submissions
    assert job["inputs"]["audio"][0]["source"].startswith("00000000-0000-4000-8000-")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("s3://other_conn@bucket/key.wav", "selects a connection"),
        ("s3://user:pass@bucket/key.wav", "selects a connection"),
        ("simplecache::s3://bucket/key.wav", "chains file systems"),
        ("s3://bucket/in/../../other/key.wav", "'..'"),
        ("s3://bucket/in/key.wav?versionId=1", "query"),
        ("s3://elsewhere/key.wav", "under none of the allowed media roots"),
        ("gs://bucket/in/key.wav", "under none of the allowed media roots"),
    ],
)
def test_object_storage_urls_from_templates_cannot_pick_connections_or_escape(
    runware: UploadingRunware, monkeypatch: pytest.MonkeyPatch, value: str, fragment: str
) -> None:
    monkeypatch.setenv(CONFIG_ENV, "s3://bucket/in/")
    refused(templated({"audio": value}), runware, "audio[0].source", fragment)


def test_object_storage_prefixes_match_whole_segments() -> None:
    roots = MediaRoots.parse(["s3://bucket/in"], "test")
    assert check_source("s3://bucket/in/a.wav", "audio", roots, from_template=True) == "s3://bucket/in/a.wav"
    with pytest.raises(SyncValidationError):
        check_source("s3://bucket/in-other/a.wav", "audio", roots, from_template=True)
    with pytest.raises(SyncValidationError):
        check_source("s3://bucket-evil/in/a.wav", "audio", roots, from_template=True)


def test_local_roots_match_whole_folders(tmp_path: Path) -> None:
    roots = MediaRoots.parse([str(tmp_path / "media")], "test")
    (tmp_path / "media-other").mkdir()
    with pytest.raises(SyncValidationError):
        check_source(str(tmp_path / "media-other" / "a.wav"), "audio", roots, from_template=True)
    inside = check_source(str(tmp_path / "media" / "sub" / "a.wav"), "audio", roots, from_template=True)
    assert inside == str((tmp_path / "media" / "sub" / "a.wav").resolve())


# ---------------------------------------------------------------- what stays trusted, how to allow


def test_literal_paths_in_dag_code_stay_trusted(runware: UploadingRunware, tmp_path: Path) -> None:
    voice = media_file(tmp_path / "anywhere", "voice.wav")
    out = tmp_path / "out" / "take.mp4"
    op = SyncLipsyncOperator(
        task_id="t", video=VIDEO, audio=str(voice), output_path=str(out), deferrable=False, poll_interval=0.01
    )
    op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert len(runware.uploads) == 1
    assert out.exists()


def test_one_templated_item_does_not_make_its_literal_neighbour_untrusted(
    runware: UploadingRunware, allowed: Path, tmp_path: Path
) -> None:
    literal = media_file(tmp_path / "studio", "intro.wav")
    op = SyncLipsyncOperator(
        task_id="t",
        video=VIDEO,
        audio=[{"id": "intro", "source": str(literal)}, {"id": "b", "source": "{{ dag_run.conf['b'] }}"}],
        deferrable=False,
        poll_interval=0.01,
    )
    from types import SimpleNamespace

    op.render_template_fields({"dag_run": SimpleNamespace(conf={"b": str(literal)}), "params": {}})  # type: ignore[arg-type]
    with pytest.raises(SyncValidationError, match=r"audio\[1\]\.source"):
        op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert runware.tasks == []


def test_the_operator_argument_allows_roots_too(runware: UploadingRunware, tmp_path: Path) -> None:
    voice = media_file(tmp_path / "incoming", "voice.wav")
    templated({"audio": str(voice)}, allowed_media_roots=[str(tmp_path / "incoming")]).execute(
        {"ti": FakeTI()}  # type: ignore[arg-type]
    )
    assert len(runware.uploads) == 1
    assert "allowed_media_roots" not in SyncLipsyncOperator.template_fields
    assert "overwrite" not in SyncLipsyncOperator.template_fields


def test_roots_must_be_absolute() -> None:
    with pytest.raises(SyncValidationError, match="allowed_media_roots: 'media' is not an absolute folder"):
        SyncLipsyncOperator(task_id="t", video=VIDEO, audio=AUDIO, allowed_media_roots=["media"])
    with pytest.raises(SyncValidationError, match="overwrite"):
        SyncLipsyncOperator(task_id="t", video=VIDEO, audio=AUDIO, overwrite="{{ params.o }}")  # type: ignore[arg-type]


def test_the_config_option_is_declared_for_airflow_config_list() -> None:
    option = get_provider_info()["config"]["sync"]["options"]["allowed_media_roots"]
    assert option["type"] == "string"
    assert option["default"] == ""
    assert "dag_run.conf" in option["description"]


def test_config_and_operator_roots_are_combined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, f"{tmp_path / 'a'}, s3://renders/\n{tmp_path / 'b'}")
    roots = MediaRoots.configured([str(tmp_path / "c")])
    assert roots.local == tuple((tmp_path / n).resolve() for n in "abc")
    assert roots.remote == ("s3://renders/",)
    monkeypatch.setenv(CONFIG_ENV, "relative/folder")
    with pytest.raises(SyncValidationError, match=r"\[sync\] allowed_media_roots"):
        MediaRoots.configured()


# ---------------------------------------------------------------- mapped tasks


def test_expanded_paths_are_run_time_values(runware: UploadingRunware, allowed: Path, tmp_path: Path) -> None:
    """``expand()`` arguments are built at run time (from conf, upstream): checked like templates."""
    from airflow_provider_sync._compat import DAG

    with DAG("mapped_paths", schedule=None) as dag:
        mapped = SyncLipsyncOperator.partial(
            task_id="lipsync", video=VIDEO, deferrable=False, poll_interval=0.01
        ).expand_kwargs([{"audio": AUDIO, "output_path": str(tmp_path / "x.mp4")}])
    op = mapped.unmap({"audio": AUDIO, "output_path": str(tmp_path / "x.mp4")})
    assert op._path_origins.output_path is True
    assert op._path_origins.video is False  # given literally in partial()
    with pytest.raises(SyncValidationError, match="outside the allowed media roots"):
        op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert runware.tasks == []
    assert dag.task_dict["lipsync"] is mapped


def test_expand_cannot_widen_the_roots_or_allow_overwriting(tmp_path: Path) -> None:
    from airflow_provider_sync._compat import DAG

    for widening in ({"allowed_media_roots": ["/"]}, {"overwrite": True}):
        with DAG(f"mapped_{next(iter(widening))}", schedule=None):
            mapped = SyncLipsyncOperator.partial(task_id="lipsync", video=VIDEO).expand_kwargs(
                [{"audio": AUDIO, **widening}]
            )
        with pytest.raises(SyncValidationError, match=r"in partial\(\), not in expand\(\)"):
            mapped.unmap({"audio": AUDIO, **widening})
    with DAG("mapped_partial_roots", schedule=None):
        mapped = SyncLipsyncOperator.partial(
            task_id="lipsync", video=VIDEO, allowed_media_roots=[str(tmp_path)], overwrite=True
        ).expand_kwargs([{"audio": AUDIO}])
    op = mapped.unmap({"audio": AUDIO})
    assert op.allowed_media_roots == [str(tmp_path)]
    assert op.overwrite is True


def test_refusal_leaves_no_file_behind(runware: UploadingRunware, allowed: Path, tmp_path: Path) -> None:
    before = sorted(os.listdir(tmp_path))
    refused(templated({"output_path": str(tmp_path / "new" / "deep" / "x.mp4")}), runware)
    assert sorted(os.listdir(tmp_path)) == before  # no parent folders created either


@pytest.mark.integration
def test_airflow_config_list_shows_the_option(airflow_home: Path) -> None:
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("airflow")
    env = {**os.environ, CONFIG_ENV: "/srv/media,s3://renders/"}
    command = [str(exe), "config", "list", "--section", "sync"]
    # Airflow 3 lists values only when asked; 2.11 always does, and has no such flag.
    usage = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120, env=env)
    if "--show-values" in usage.stdout:
        command.append("--show-values")
    listed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    assert "allowed_media_roots = /srv/media,s3://renders/" in listed.stdout


def test_a_single_string_of_roots_is_not_read_character_by_character(tmp_path: Path) -> None:
    roots = MediaRoots.parse(f"{tmp_path / 'a'},{tmp_path / 'b'}", "allowed_media_roots")
    assert roots.local == ((tmp_path / "a").resolve(), (tmp_path / "b").resolve())
    assert Path("/") not in roots.local
    op = SyncLipsyncOperator(task_id="t", video=VIDEO, audio=AUDIO, allowed_media_roots=str(tmp_path / "a"))  # type: ignore[arg-type]
    with pytest.raises(SyncValidationError, match="outside the allowed media roots"):
        check_source("/etc/passwd.wav", "audio", op._media_roots(), from_template=True)
