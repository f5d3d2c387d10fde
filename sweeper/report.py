"""The leaderboard of a study, read back from its run directory.

Every trial directory that Tune wrote holds `params.json` (the trial's config) and `result.json`
(one JSON line per report). A trial's row shows its varied parameters, its final clean and
adversarial accuracy (or, for a trial that ASHA stopped, its last per-epoch figures), the epochs
it ran and its status. The board is printed as Markdown and written as Markdown and CSV.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from trial import metrics as M

STATUSES = ("completed", "stopped", "diverged", "error", "running")


@dataclasses.dataclass(frozen=True)
class Row:
    """One trial on the leaderboard."""

    trial: str
    config: dict[str, Any]
    clean_acc: float | None
    adv_acc: float | None
    epochs: int
    status: str
    metrics: dict[str, Any]


def _last_result(path: Path) -> dict[str, Any]:
    last: dict[str, Any] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                last = json.loads(line)
    return last


def collect(run_dir: Path) -> list[Row]:
    """Reads every trial of a study's run directory."""
    rows = []
    for trial_dir in sorted(p for p in run_dir.iterdir() if (p / "params.json").exists()):
        params = json.loads((trial_dir / "params.json").read_text()).get("trial", {})
        result = _last_result(trial_dir / "result.json")
        status = result.get(M.STATUS)
        if (trial_dir / "error.txt").exists() and status is None:
            status = "error"
        elif status is None:
            status = "stopped" if result else "running"
        final = status in ("completed", "diverged")
        clean = result.get(M.CLEAN_ACC if final else M.VAL_CLEAN_ACC)
        adv = result.get(M.ADV_ACC if final else M.VAL_ADV_ACC)
        rows.append(
            Row(trial_dir.name, params, clean, adv, int(result.get(M.EPOCH, 0)), status, result)
        )
    return rows


def varied_keys(rows: list[Row]) -> list[str]:
    """Config keys whose value differs between trials (the interesting columns)."""
    keys = sorted({k for r in rows for k in r.config})
    return [k for k in keys if len({json.dumps(r.config.get(k)) for r in rows}) > 1]


def rank(rows: list[Row], metric: str, mode: str) -> list[Row]:
    """Sorts rows best first by `metric` (final figure, else last per-epoch one)."""

    def score(row: Row) -> float:
        value = {M.CLEAN_ACC: row.clean_acc, M.ADV_ACC: row.adv_acc}.get(
            metric, row.metrics.get(metric)
        )
        if not isinstance(value, int | float) or math.isnan(value):
            return math.inf
        return -value if mode == "max" else value

    return sorted(rows, key=lambda r: (r.status != "completed", score(r)))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if not math.isnan(value) else "nan"
    return "–" if value is None else str(value)


def _checks(metrics: dict[str, Any]) -> str:
    """The sanity verdicts behind a final adv_acc: pass, or the failed checks' names."""
    failed = [k[6:] for k, v in metrics.items() if k.startswith("check/") and v == "fail"]
    if M.CHECKS_PASSED not in metrics:
        return "–"
    return "fail: " + ", ".join(failed) if failed else "pass"


def table(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    keys = varied_keys(rows)
    header = ["rank", "trial", *keys, "clean_acc", "adv_acc", "checks", "epochs", "status"]
    body = [
        [
            str(i),
            r.trial,
            *(_fmt(r.config.get(k)) for k in keys),
            _fmt(r.clean_acc),
            _fmt(r.adv_acc),
            _checks(r.metrics),
            str(r.epochs),
            r.status + ("" if r.status != "stopped" else " (val)"),
        ]
        for i, r in enumerate(rows, 1)
    ]
    return header, body


def markdown(rows: list[Row]) -> str:
    header, body = table(rows)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def write(run_dir: Path, metric: str, mode: str) -> str:
    """Ranks the study's trials, writes leaderboard.md/.csv into the run dir, returns the md."""
    rows = rank(collect(run_dir), metric, mode)
    if not rows:
        raise FileNotFoundError(
            f"{run_dir} holds no trial directories (params.json); is it a study's run folder, "
            "e.g. runs/demo?"
        )
    text = (
        f"# Leaderboard: {run_dir.name}\n\nRanked by `{metric}` ({mode}). A trial that ASHA "
        "stopped shows its last per-epoch figures (val/clean_acc, val/adv_acc).\n\n"
        + markdown(rows)
        + "\n"
    )
    (run_dir / "leaderboard.md").write_text(text)
    header, body = table(rows)
    with (run_dir / "leaderboard.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(body)
    return text
