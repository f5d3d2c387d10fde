"""Reads the records of an offline W&B run file (`run-<id>.wandb`).

The file is a LevelDB-style log: a 7-byte header (`:W&B`, magic, version), then 32 KiB blocks of
chunks, each with a 7-byte header (crc32, length, type: 1 full, 2 first, 3 middle, 4 last) whose
payloads join into serialised `wandb_internal_pb2.Record` protobufs. wandb 0.31 ships no reader.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
HEADER = 7


def records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B run file (header {data[:4]!r})")
    out, pending, pos = [], b"", HEADER
    while pos + HEADER <= len(data):
        room = BLOCK - pos % BLOCK
        if room < HEADER:  # the block's tail is padding
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        pos += HEADER
        chunk = data[pos : pos + length]
        pos += length
        if kind == 1:
            out.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            out.append(pending + chunk)
        elif kind == 0 and length == 0:
            pos += room - HEADER  # zero padding up to the next block
    return [pb.Record.FromString(raw) for raw in out]


def summary(path: Path) -> dict[str, Any]:
    """The run's config, its history rows and its latest summary, decoded from JSON."""
    config: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    final: dict[str, Any] = {}
    for rec in records(path):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            config = {i.key: json.loads(i.value_json) for i in rec.run.config.update}
        elif kind == "history":
            history.append(
                {
                    i.key or "/".join(i.nested_key): json.loads(i.value_json)
                    for i in rec.history.item
                }
            )
        elif kind == "summary":
            final.update(
                {
                    i.key or "/".join(i.nested_key): json.loads(i.value_json)
                    for i in rec.summary.update
                }
            )
    return {"config": config, "history": history, "summary": final}
