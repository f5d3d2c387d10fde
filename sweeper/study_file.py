"""A study file on disk: finding it, reading it as a YAML mapping, and the error type that names
the file in every message (a directory, a binary file or broken YAML included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class StudyError(ValueError):
    """A study file is invalid; the message names the file, the field and the fix."""


def fail(path: Path, msg: str) -> StudyError:
    return StudyError(f"{path}: {msg}")


def resolve_path(study: str | Path, project_dir: Path | None = None) -> Path:
    """Finds a study file: as given (relative to the working directory), then in the project."""
    candidate = Path(study)
    searched = [Path.cwd()]
    if project_dir is not None and not candidate.is_absolute():
        searched += [project_dir, project_dir / "search_spaces"]
    for base in searched:
        if (base / candidate).is_file():
            return (base / candidate).resolve()
    for base in searched:
        if (base / candidate).is_dir():
            found = sorted(p.name for p in (base / candidate).glob("*.yaml"))[:5]
            inside = f" (it holds {', '.join(found)})" if found else ""
            raise StudyError(
                f"{base / candidate} is a directory, not a study file{inside}; give one YAML "
                "file, e.g. search_spaces/demo.yaml"
            )
    where = ", ".join(dict.fromkeys(str(p) for p in searched))
    raise StudyError(
        f"study file {str(study)!r} does not exist (looked in {where}); studies live in "
        "search_spaces/, e.g. search_spaces/demo.yaml"
    )


def read_mapping(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise fail(path, f"cannot be read ({err.strerror or err}); check its permissions") from None
    if b"\0" in data[:8192]:
        raise fail(path, "is a binary file, not a YAML study; give a .yaml file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(path, "is not UTF-8 text (a binary file?); a study is a YAML file") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise fail(path, f"is not valid YAML: {err}") from None
    except RecursionError:
        raise fail(path, "is nested too deeply to be a study") from None
    if not isinstance(raw, dict):
        raise fail(path, "must be a YAML mapping with at least `method` and `parameters`")
    bad = [k for k in raw if not isinstance(k, str)]
    if bad:
        raise fail(path, f"field names must be text, got {bad[0]!r}")
    return raw
