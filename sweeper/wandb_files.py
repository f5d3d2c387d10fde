"""The local files of a W&B run (`<dir>/wandb/[offline-]run-<time>-<id>[-N]/run-<id>.wandb`).

A resumed offline trial must know which steps earlier files of its run already hold, and wandb
0.31 ships no reader for them. The format is a LevelDB-style log of protobuf `Record`s from
`wandb.proto.wandb_internal_pb2`.
"""

from __future__ import annotations

import logging
import re
import struct
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _records(path: Path) -> list[Any]:
    """The protobuf records of a W&B run file: a LevelDB-style log (7-byte header, 32 KiB blocks
    of chunks with a 7-byte header: crc32, length, type 1 full / 2 first / 3 middle / 4 last)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, out, pending, pos = path.read_bytes(), [], b"", 7
    while pos + 7 <= len(data):
        room = 32768 - pos % 32768
        if room < 7:
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind in (1, 4):
            out.append(pending + chunk if kind == 4 else chunk)
        elif kind in (2, 3):
            pending = chunk if kind == 2 else pending + chunk
        elif kind == 0 and length == 0:
            pos += room - 7
    return [pb.Record.FromString(raw) for raw in out]


def run_files(directory: Path, run_id: str) -> list[Path]:
    """The local files of a run in `directory/wandb`, oldest first (W&B adds `-1`, `-2` to the
    folder of a run started again within the same second)."""
    pattern = re.compile(rf"(offline-)?run-(\d{{8}}_\d{{6}})-{re.escape(run_id)}(-\d+)?")
    found = []
    for path in directory.glob("wandb/*/run-*.wandb"):
        if m := pattern.fullmatch(path.parent.name):
            found.append(((m.group(2), int((m.group(3) or "-0")[1:])), path))
    return [p for _, p in sorted(found)]


def last_logged_step(directory: Path, run_id: str, skip: Path | None = None) -> int:
    """The highest history step that earlier local files of a run hold (-1 for none)."""
    last = -1
    for path in run_files(directory, run_id):
        if skip is not None and path.parent.resolve() == skip.resolve():
            continue
        try:
            for rec in _records(path):
                if rec.WhichOneof("record_type") == "history":
                    last = max(last, int(rec.history.step.num))
        except Exception as err:  # a file cut short by a kill: use what was readable
            log.debug("W&B file %s: %s", path, err)
    return last
