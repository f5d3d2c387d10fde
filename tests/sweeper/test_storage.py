"""Study storage: local paths, URIs, the shared-storage rule and the --resume record."""

from __future__ import annotations

import dataclasses

import pytest

from sweeper.space import load_study
from sweeper.storage import (
    StorageError,
    check_run_dir,
    parse_storage,
    require_shared,
)
from tests.sweeper.processes import PROJECT

DEMO = PROJECT / "search_spaces" / "demo.yaml"


def test_a_local_path_is_not_shared_unless_declared(tmp_path):
    plain = parse_storage(str(tmp_path / "runs"))
    assert plain.local == (tmp_path / "runs") and not plain.shared
    with pytest.raises(StorageError, match="--shared-storage") as err:
        require_shared(plain, "--address auto attaches to a Ray cluster")
    assert str(tmp_path / "runs") in str(err.value) and "s3://" in str(err.value)
    require_shared(parse_storage(str(tmp_path), shared=True), "a cluster")


def test_file_uris_are_local_cloud_uris_shared(tmp_path):
    file_uri = parse_storage(f"file://{tmp_path}")
    assert file_uri.local == tmp_path and not file_uri.shared
    assert parse_storage("mock:///studies").shared is False
    cloud = parse_storage("s3://bucket/prefix", filesystem=object())
    assert cloud.shared and cloud.local is None
    assert cloud.study_uri("demo") == "s3://bucket/prefix/demo"


def test_an_unknown_uri_scheme_is_named():
    with pytest.raises(StorageError, match="nope://x.*pyarrow cannot open it"):
        parse_storage("nope://x")


def test_relative_storage_inside_a_ray_job_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageError, match="Ray's temporary copy"):
        parse_storage("runs")
    assert parse_storage(str(tmp_path / "runs")).local == tmp_path / "runs"


def _resume_semantics(storage) -> None:
    demo = load_study(DEMO)
    assert check_run_dir(storage, demo, resume=False, record=False) is None  # nothing there yet
    assert check_run_dir(storage, demo, resume=True) is None  # new: starts and records
    assert check_run_dir(storage, demo, resume=True) is None  # same study: resumes
    assert "--resume" in check_run_dir(storage, demo, resume=False)
    problem = check_run_dir(storage, dataclasses.replace(demo, seed=7), resume=True)
    assert "different version" in problem and "seed" in problem


def test_resume_record_with_a_local_path(tmp_path):
    _resume_semantics(parse_storage(str(tmp_path)))
    assert (tmp_path / "demo" / "study.json").exists()


def test_resume_record_with_a_file_uri(tmp_path):
    _resume_semantics(parse_storage(f"file://{tmp_path}"))
    assert (tmp_path / "demo" / "study.json").exists()


def test_resume_record_with_pyarrows_mock_filesystem():
    from pyarrow.fs import FileType, _MockFileSystem

    fs = _MockFileSystem()
    _resume_semantics(parse_storage("mock://bucket/studies", filesystem=fs))
    assert fs.get_file_info("bucket/studies/demo/study.json").type == FileType.File
