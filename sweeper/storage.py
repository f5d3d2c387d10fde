"""Where a study's results and checkpoints live, and whether every node of a cluster reaches it.

`--storage` is a local path or any pyarrow filesystem URI (`s3://`, `gs://`, `file://`, ...).
A study that runs on more than one node needs storage every node reaches: a cloud URI, or a
path the user declares shared (`--shared-storage`, e.g. an NFS mount); a plain local path there
would leave each trial's checkpoints on the node that wrote them, so a trial could never resume
elsewhere. The study record (`study.json`, the fingerprint `--resume` compares) is read and
written through the same pyarrow filesystem as Tune's own files, so URIs work alike.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

STUDY_RECORD = "study.json"  # the study a run folder was started from, for --resume
LOCAL_SCHEMES = ("", "file", "mock")  # on this machine (or in this process) only


class StorageError(ValueError):
    """Storage that cannot serve this study; the message says how to fix it."""


@dataclasses.dataclass(frozen=True)
class Storage:
    """A study storage root.

    Attributes:
        uri: what Tune receives as `storage_path` (an absolute path or a URI).
        shared: whether every node of a cluster reaches it.
        local: the same root as a path on this machine, when it is one (plain path, file://).
        filesystem: a pyarrow filesystem to use instead of resolving `uri` (tests inject
            pyarrow's mock filesystem).
    """

    uri: str
    shared: bool
    local: Path | None
    filesystem: Any = None

    def fs_and_path(self) -> tuple[Any, str]:
        import pyarrow.fs

        if self.filesystem is not None:
            return self.filesystem, _strip_scheme(self.uri)
        if self.local is not None:
            return pyarrow.fs.LocalFileSystem(), str(self.local)
        return pyarrow.fs.FileSystem.from_uri(self.uri)

    def for_tune(self) -> tuple[str, Any]:
        """(storage_path, storage_filesystem) as Tune takes them."""
        if self.filesystem is None:
            return self.uri, None
        return _strip_scheme(self.uri), self.filesystem

    def study_uri(self, name: str) -> str:
        return f"{self.uri.rstrip('/')}/{name}"

    def study_fs(self, name: str) -> tuple[Any, str]:
        """(pyarrow filesystem, the study folder's path on it)."""
        fs, root = self.fs_and_path()
        return fs, f"{root.rstrip('/')}/{name}"

    def tune_experiment(self, name: str) -> tuple[str, Any]:
        """(the study folder as Tune's restore and results take it, storage_filesystem)."""
        root, fs = self.for_tune()
        return f"{root.rstrip('/')}/{name}", fs

    def study_dir(self, name: str) -> Path | None:
        """The study folder on this machine, when the storage is local."""
        return self.local / name if self.local is not None else None


def _strip_scheme(uri: str) -> str:
    parsed = urlparse(uri)
    return (parsed.netloc + parsed.path).rstrip("/") if parsed.scheme else uri


def in_ray_job() -> bool:
    """Whether this process is a Ray job's entrypoint (`ray job submit`)."""
    return "RAY_JOB_CONFIG_JSON_ENV_VAR" in os.environ


def parse_storage(raw: str, *, shared: bool = False, filesystem: Any = None) -> Storage:
    """Turns `--storage` into a Storage; raises StorageError for a URI pyarrow cannot open or a
    relative path inside a Ray job (whose working directory is Ray's temporary copy)."""
    scheme = urlparse(raw).scheme.lower() if "://" in raw else ""
    if scheme == "file":
        local = Path(urlparse(raw).path)
        return Storage(raw, shared, local, filesystem)
    if scheme:
        if filesystem is None:
            import pyarrow.fs

            try:
                pyarrow.fs.FileSystem.from_uri(raw)
            except Exception as err:
                raise StorageError(
                    f"--storage {raw}: pyarrow cannot open it ({err}); use a path, or a URI "
                    "such as s3://BUCKET/PREFIX or gs://BUCKET/PREFIX"
                ) from None
        return Storage(raw, shared or scheme not in LOCAL_SCHEMES, None, filesystem)
    path = Path(raw).expanduser()
    if in_ray_job() and not path.is_absolute():
        raise StorageError(
            f"--storage {raw} is relative, and inside a Ray job the working directory "
            f"({Path.cwd()}) is Ray's temporary copy, deleted with the session: pass an absolute "
            "path every node reaches with --shared-storage (e.g. /mnt/nfs/attention-sweeps), "
            "or a URI (s3://BUCKET/PREFIX)"
        )
    path = path.resolve()
    return Storage(str(path), shared, path, filesystem)


def require_shared(storage: Storage, why: str) -> None:
    """Refuses storage that other nodes cannot reach, for a study that runs on several."""
    if storage.shared:
        return
    raise StorageError(
        f"{why}, so every node must reach the study's storage, but --storage {storage.uri} "
        "is on this machine only: other nodes could not read the checkpoints a trial resumes "
        "from. Use a URI (--storage s3://BUCKET/PREFIX, gs://...), or a path every node mounts "
        "and say so: --storage /mnt/nfs/attention-sweeps --shared-storage (a cluster whose "
        "nodes all run on this machine may declare its local path shared the same way)"
    )


def recorded_fingerprint(study) -> dict[str, Any]:
    """The study's fingerprint as its record in the run folder holds it (JSON types)."""
    return json.loads(json.dumps(study.fingerprint(), default=str))


def _holds_a_run(fs, run_dir: str) -> bool:
    """Whether the study folder exists with anything in it but the driver lock (which a driver
    takes before it records the study: `sweeper.lock`)."""
    from pyarrow.fs import FileSelector

    from sweeper.lock import GUARD, RECORD

    entries = fs.get_file_info(FileSelector(run_dir, allow_not_found=True))
    return any(
        not (e.base_name in (RECORD, GUARD) or e.base_name.startswith(f".{RECORD}"))
        for e in entries
    )


def check_run_dir(storage: Storage, study, resume: bool, *, record: bool = True) -> str | None:
    """Refuses to overwrite a run, or to resume one started from a different study; with
    `record`, records the study in a new run folder. Returns the problem, or None."""
    from pyarrow.fs import FileType

    fs, run_dir = storage.study_fs(study.name)
    record_path = f"{run_dir}/{STUDY_RECORD}"
    shown = storage.study_uri(study.name)
    wanted = recorded_fingerprint(study)
    if _holds_a_run(fs, run_dir):
        if not resume:
            return (
                f"{shown} already holds a run of study {study.name!r}; pass --resume to "
                "continue it (finished trials are kept), or --storage to start elsewhere"
            )
        if fs.get_file_info(record_path).type == FileType.File:
            with fs.open_input_stream(record_path) as f:
                saved = json.loads(f.read().decode())
            changed = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
            if changed:
                return (
                    f"{shown} was started from a different version of study {study.name!r} "
                    f"(changed: {', '.join(changed)}); --resume would rerun the old trials. "
                    "Start it elsewhere with --storage, or give the study a new `name`; or run "
                    f"only this version's new trials in that folder: --extend {shown}"
                )
            return None
    if not record:
        return None
    fs.create_dir(run_dir, recursive=True)
    with fs.open_output_stream(record_path) as f:
        f.write(json.dumps(wanted, indent=1, sort_keys=True).encode())
    return None
