"""The leaderboard as cells: one builder feeds the Markdown, CSV and HTML versions."""

from __future__ import annotations

import json
import math
from typing import Any

from sweeper.report.stats import group, seed_groups, wilson
from sweeper.report.trials import TrialRecord
from trial import metrics as M

STATUS_TEXT = {
    "completed": "completed",
    "diverged": "diverged at epoch {epochs}",
    "stopped": "stopped by ASHA at epoch {epochs}",
    "errored": "errored at epoch {epochs}",
    "over_time_budget": "over time budget at epoch {epochs}",
    "running": "running (epoch {epochs})",
    "interrupted": "interrupted at epoch {epochs} (--resume continues it)",
    "pending": "not started",
}


def status_text(trial: TrialRecord) -> str:
    text = STATUS_TEXT.get(trial.status, trial.status + " at epoch {epochs}")
    return text.format(epochs=trial.epochs)


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return "–" if value is None else str(value)


def interval(trial: TrialRecord, key: str) -> tuple[float, float] | None:
    value, n = trial.final.get(key), trial.n_test
    if not trial.has_final or n is None:
        return None
    return wilson(float(value), n)


def accuracy_cell(trial: TrialRecord, key: str, val_key: str) -> str:
    """`0.912 [0.884, 0.934]` for a final figure with its 95% interval; `0.83 (val)` for a
    trial that only has per-epoch figures; `–` for none."""
    if trial.has_final:
        ci = interval(trial, key)
        text = f"{trial.final[key]:.3f}"
        return text + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
    last = trial.last(val_key)
    return "–" if last is None else f"{last:.3f} (val)"


def checks_cell(trial: TrialRecord) -> str:
    if not trial.checks and "checks_passed" not in trial.final:
        return "–"
    failed = trial.failed_checks
    if failed:
        return "FAILED: " + ", ".join(failed)
    return f"{len(trial.checks)} passed" if trial.checks else "passed"


def leaderboard(
    trials: list[TrialRecord], keys: list[str], names: dict[str, str]
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the leaderboard (trials already in report order)."""
    header = [
        "#",
        "trial",
        "run",
        "clean_acc [95% CI]",
        "adv_acc [95% CI]",
        "epochs",
        "status",
        "checks",
        *keys,
    ]
    rows, rank = [], 0
    for t in trials:
        ranked = group(t) == "ranked"
        rank += ranked
        rows.append(
            [
                str(rank) if ranked else "–",
                t.name,
                names[t.name],
                accuracy_cell(t, M.CLEAN_ACC, M.VAL_CLEAN_ACC),
                accuracy_cell(t, M.ADV_ACC, M.VAL_ADV_ACC),
                str(t.epochs),
                status_text(t) + (f": {t.error}" if t.error else ""),
                checks_cell(t),
                *(fmt(t.config.get(k)) for k in keys),
            ]
        )
    return header, rows


def csv_rows(trials: list[TrialRecord], keys: list[str], names: dict[str, str]) -> list[list[Any]]:
    """Machine-readable rows: raw numbers, interval bounds, per-attack figures."""
    attacks = sorted(
        {k for t in trials for k in t.final if k.startswith((f"{M.ADV_ACC}/", "adv_curve/"))}
    )
    checks = sorted({k for t in trials for k in t.final if k.startswith("check/")})
    header = [
        "rank",
        "trial",
        "run",
        *keys,
        "clean_acc",
        "clean_acc_lo",
        "clean_acc_hi",
        "adv_acc",
        "adv_acc_lo",
        "adv_acc_hi",
        "n_test",
        "attack_budget",
        "figures",
        "val_clean_acc",
        "val_adv_acc",
        "epochs",
        "status",
        "checks_passed",
        *checks,
        *attacks,
    ]
    out: list[list[Any]] = [header]
    rank = 0
    for t in trials:
        ranked = group(t) == "ranked"
        rank += ranked
        clean_ci, adv_ci = interval(t, M.CLEAN_ACC), interval(t, M.ADV_ACC)
        out.append(
            [
                rank if ranked else "",
                t.name,
                names[t.name],
                *(fmt(t.config.get(k)) for k in keys),
                t.final.get(M.CLEAN_ACC, ""),
                *(clean_ci or ("", "")),
                t.final.get(M.ADV_ACC, ""),
                *(adv_ci or ("", "")),
                t.n_test or "",
                t.final.get(M.ATTACK_BUDGET, ""),
                "final" if t.has_final else ("val" if t.history else ""),
                t.last(M.VAL_CLEAN_ACC) if t.last(M.VAL_CLEAN_ACC) is not None else "",
                t.last(M.VAL_ADV_ACC) if t.last(M.VAL_ADV_ACC) is not None else "",
                t.epochs,
                t.status,
                t.final.get("checks_passed", ""),
                *(t.final.get(k, "") for k in checks),
                *(t.final.get(k, "") for k in attacks),
            ]
        )
    return out


def seeds_table(
    trials: list[TrialRecord], keys: list[str]
) -> tuple[list[str], list[list[str]]] | None:
    """Mean ± sample std over seeds, for configs the study ran with several seeds."""
    groups = seed_groups(trials)
    if not groups:
        return None
    shown = [k for k in keys if k != "seed"]
    header = [*shown, "seeds", "clean_acc mean ± std", "adv_acc mean ± std", "trials"]
    rows = []
    for g in groups:
        cells = [fmt(g.config.get(k)) for k in shown]
        cells.append(str(len(g.trials)))
        for key in (M.CLEAN_ACC, M.ADV_ACC):
            mean, std = g.spread(key) or (math.nan, math.nan)
            cells.append(f"{mean:.3f} ± {std:.3f}")
        cells.append(", ".join(t.name for t in g.trials))
        rows.append(cells)
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(map(esc, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    return "\n".join(lines)
