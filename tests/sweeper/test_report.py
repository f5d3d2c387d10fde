"""The study report, rendered from a small stored study (Tune's layout) and read back: the HTML
names every trial and embeds every registered plot; the leaderboard ranks only completed trials
whose checks passed; every ending is told apart; the statistics are right."""

from __future__ import annotations

import base64
import csv
import html.parser
import io
import json
import math

import pytest

from sweeper import report
from sweeper.report import plots, stats
from sweeper.report.trials import collect
from tests.sweeper.study_fixture import TRIALS, write_study


class Page(html.parser.HTMLParser):
    """Collects the text, the images per section and every external reference of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.images: dict[str, list[bytes]] = {}
        self.sections: list[str] = []
        self.external: list[str] = []
        self.rows: list[list[str]] = []
        self._section = ""
        self._row: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._section = attrs.get("id", "")
            self.sections.append(self._section)
        if tag in ("script", "link", "iframe"):
            self.external.append(tag)
        if tag == "tr" and self._section == "leaderboard":
            self._row = []
        src = attrs.get("src") or attrs.get("href") or ""
        if tag == "img":
            prefix = "data:image/png;base64,"
            if not src.startswith(prefix):
                self.external.append(src)
            else:
                self.images.setdefault(self._section, []).append(
                    base64.b64decode(src[len(prefix) :])
                )
        elif src:
            self.external.append(src)

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._row is not None and data.strip():
            self._row.append(data.strip())


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = write_study(tmp_path_factory.mktemp("report"))
    report.write(folder)
    return folder


@pytest.fixture(scope="module")
def rep(study):
    return report.build(study)


@pytest.fixture(scope="module")
def page(study):
    parser = Page()
    parser.feed((study / "report.html").read_text())
    return parser


def test_html_names_every_trial_and_embeds_every_plot_offline(page):
    text = " ".join(page.text)
    for name in TRIALS:
        assert name in text
    for name in plots.PLOTS:
        assert f"plot-{name}" in page.sections, name
        images = page.images.get(f"plot-{name}", [])
        assert images, f"plot {name} embeds no image"
        assert all(img.startswith(b"\x89PNG\r\n\x1a\n") for img in images)
    assert page.external == [], "the report must open offline"


def test_leaderboard_ranks_only_completed_trials_with_passing_checks(page):
    rows = {r[1]: r for r in page.rows[1:]}
    ranked = sorted((int(r[0]), name) for name, r in rows.items() if r[0] != "–")
    assert [name for _, name in ranked] == ["trial_d", "trial_i", "trial_b", "trial_c", "trial_a"]
    # trial_e has the highest adv_acc, but a failed check: marked and not ranked
    assert rows["trial_e"][0] == "–" and "FAILED: gradients" in rows["trial_e"]
    assert "unconstrained" not in " ".join(rows["trial_e"]), "a verdict's numbers are no verdicts"


def test_every_ending_is_told_apart(page):
    column = page.rows[0].index("status")
    status = {r[1]: r[column] for r in page.rows[1:]}
    assert status["trial_a"] == "completed"
    assert status["trial_f"] == "stopped by ASHA at epoch 2"
    assert status["trial_h"] == "diverged at epoch 1"
    assert status["trial_g"].startswith("errored at epoch 1: RuntimeError: out of memory")
    assert status["trial_j"] == "over time budget at epoch 2"
    assert status["trial_k"].startswith("interrupted at epoch 1")


def test_header_states_threat_model_budget_and_best_rule(study):
    md = (study / "report.md").read_text()
    assert "ε = 2/255" in md and "attack budget demo on 200 test images" in md
    assert "intervals of the top two trials' `adv_acc` overlap (trial_d" in md  # 0.50 vs 0.45
    # best rule with the default 0.05: clean within 0.87 of the best 0.92 -> trial_i (adv 0.45)
    assert "Best trial: trial_i" in md and "within 0.05 of the best `clean_acc`" in md
    wider = report.build(study, max_clean_loss=0.1)
    assert wider.best.trial.name == "trial_d"


def test_csv_has_intervals_and_per_attack_figures(study):
    rows = list(csv.DictReader(io.StringIO((study / "report.csv").read_text())))
    assert {r["trial"] for r in rows} == set(TRIALS)
    b = next(r for r in rows if r["trial"] == "trial_b")
    lo, hi = stats.wilson(0.92, 200)
    assert float(b["clean_acc_lo"]) == pytest.approx(lo) and float(
        b["clean_acc_hi"]
    ) == pytest.approx(hi)
    assert b["adv_acc/linf/apgd_dlr/0.007843"] == "0.35" and b["check/gradients"] == "pass"


def test_seed_spread_and_importance(rep):
    [group] = stats.seed_groups(rep.trials)
    mean, std = group.spread("adv_acc")
    assert mean == pytest.approx(0.34) and std == pytest.approx(math.sqrt(2) * 0.01)
    importance = next(s for s in rep.sections if s.name == "importance")
    assert "fANOVA over 5 ranked trials" in importance.text and "model.kind" in importance.text


def test_too_few_trials_for_importance_and_missing_overlays_are_said(tmp_path):
    few = {k: TRIALS[k] for k in ("trial_a", "trial_b", "trial_d")}
    folder = write_study(tmp_path, trials=few)
    for png in (folder / "trial_d" / "overlays").iterdir():
        png.unlink()
    rep = report.build(folder)
    texts = {s.name: s.text for s in rep.sections}
    assert "Too few trials for parameter importance: 3" in texts["importance"]
    assert "overlays are missing" in texts["overlays"]


def test_uri_storage_reads_the_same_study(study, rep):
    local = rep
    remote = report.build(f"file://{study}")
    assert [t.name for t in remote.trials] == [t.name for t in local.trials]
    assert remote.board == local.board


def test_wilson_interval_properties():
    lo, hi = stats.wilson(0.5, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.4038, 0.5962)  # the textbook value
    for p in (0.0, 0.1, 0.5, 1.0):
        a, b = stats.wilson(p, 50)
        c, d = stats.wilson(p, 5000)
        assert 0.0 <= a <= p <= b <= 1.0 and a <= c <= p <= d <= b  # narrows with n
    with pytest.raises(ValueError, match="n=0"):
        stats.wilson(0.5, 0)


def test_pareto_front():
    points = [(0.9, 0.3), (0.8, 0.5), (0.85, 0.2), (0.7, 0.5), (0.95, 0.1)]
    assert stats.pareto_front(points) == [1, 0, 4]


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        report.build(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no trial folders"):
        report.build(tmp_path)


def test_a_broken_plot_does_not_cost_the_leaderboard(study, monkeypatch):
    from sweeper.report.plots import pareto

    monkeypatch.setattr(pareto, "render", lambda ctx: 1 / 0)
    rep = report.build(study)
    section = next(s for s in rep.sections if s.name == "pareto")
    assert "Could not draw" in section.text and "trial_b" in rep.markdown


def test_trial_records_merge_the_evaluation_phase(study):
    trials = {t.name: t for t in collect(report.Store(study))}
    i = trials["trial_i"]
    assert i.epochs == 3 and len(i.history) == 3 and i.final["clean_acc"] == 0.89
    assert (
        json.loads((study / "trial_i" / "params.json").read_text())["trial"]["model.kind"]
        == i.family
    )


def test_threat_model_reads_eps_as_bayes_and_grid_trials_store_it():
    def trial(name: str, eps) -> report.TrialRecord:
        return report.TrialRecord(name, {"attack.eps": eps}, (), {}, "completed")

    # A bayes trial keeps the study's "2/255"; a grid trial (and an extension's) the number.
    text = stats.threat_model([trial("a", "2/255"), trial("b", 2 / 255), trial("c", 4 / 255)])
    assert "ε = 2/255 (0.007843), 4/255 (0.01569);" in text


def test_a_plot_whose_module_cannot_be_imported_gets_its_own_section(study, monkeypatch):
    import sys

    # None in sys.modules makes `import sweeper.report.plots.pareto` raise ImportError, as a
    # missing optional dependency of that one plot would.
    monkeypatch.setitem(sys.modules, "sweeper.report.plots.pareto", None)
    rep = report.build(study)
    section = next(s for s in rep.sections if s.name == "pareto")
    assert "Could not draw this plot" in section.text and "ModuleNotFoundError" in section.text
    assert "trial_b" in rep.markdown, "the leaderboard is still written"
    others = [s for s in rep.sections if s.name != "pareto"]
    assert others and any(s.images for s in others), "and so are the other plots"
