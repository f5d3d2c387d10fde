"""Keeps a trial's result history whole across a retry.

Tune's loggers write `result.json` and `progress.csv` into the driver's staging folder and copy
them to the study's storage now and then. When a trial fails and Tune retries it, the loggers
first fetch those files back from storage, so rows written since the last copy (say epoch 2,
when the node died during epoch 3) would silently vanish from the history, and from the report.
`KeepHistory` writes the driver's rows to storage before the retry, cut to the checkpoint the
trial resumes from: rows after it are produced again by the retry, so the history reads 1, 2,
3, ... exactly once.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

from ray.tune import Callback

log = logging.getLogger(__name__)

ITERATION = "training_iteration"
RESULT_FILE, PROGRESS_FILE = "result.json", "progress.csv"


def cut_json_lines(text: str, last: int) -> str:
    """`result.json` rows up to training iteration `last` (rows without one are kept)."""
    kept = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a row cut short by the failure
            continue
        if int(row.get(ITERATION, 0)) <= last:
            kept.append(line)
    return "".join(f"{line}\n" for line in kept)


def cut_csv(text: str, last: int) -> str:
    """`progress.csv` rows up to training iteration `last`, header kept."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or ITERATION not in reader.fieldnames:
        return text
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames, lineterminator="\n")
    writer.writeheader()
    for row in reader:
        try:
            iteration = int(float(row[ITERATION]))
        except (TypeError, ValueError):  # a row cut short by the failure
            continue
        if iteration <= last:
            writer.writerow(row)
    return out.getvalue()


def _resumes_from(trial) -> int | None:
    """The training iteration of the checkpoint Tune retries `trial` from (None: from scratch)."""
    latest = trial.run_metadata.checkpoint_manager.latest_checkpoint_result
    if latest is None:
        return None
    return int(latest.metrics.get(ITERATION, 0))


class KeepHistory(Callback):
    """Before Tune retries a failed trial, its rows so far go to storage (see the module)."""

    def on_trial_recover(self, iteration, trials, trial, **info) -> None:
        last = _resumes_from(trial)
        if last is None:  # a retry from scratch starts its files afresh
            return
        for name, cut in ((RESULT_FILE, cut_json_lines), (PROGRESS_FILE, cut_csv)):
            local = Path(trial.local_path, name)
            if not local.exists():
                continue
            text = cut(local.read_text(errors="replace"), last)
            local.write_text(text)  # what the loggers append to when storage has no copy
            remote = f"{trial.storage.trial_fs_path}/{name}"
            try:
                with trial.storage.storage_filesystem.open_output_stream(remote) as out:
                    out.write(text.encode())
            except OSError as err:  # (pyarrow's IO errors are OSErrors)
                log.warning("trial %s: could not keep %s in storage (%s)", trial, name, err)
