"""The drift-repair benchmark's figures: local repairs save lookups, and they add up."""

from __future__ import annotations

from bench.drift_repair import clean_path, drift_figures


def test_local_repair_saves_lookups_and_the_figures_add_up() -> None:
    figures = drift_figures(1000, 0.0, batch=10)
    assert figures["drifted"] > 100
    assert 0.3 < figures["share_of_drifted_repaired_locally"] < 0.6
    assert figures["lookups_saved_per_10k"] == figures["repaired_locally"] * 10
    assert figures["requests_saved_per_10k"] > 0
    assert figures["verify_disagreements"] == 0
    assert set(figures["drift_by_kind"]) == {
        "missing", "null", "empty", "wrong_type", "renamed", "case"
    }  # fmt: skip


def test_verifying_every_local_repair_saves_nothing() -> None:
    figures = drift_figures(500, 1.0)
    assert figures["repaired_locally"] == 0
    assert figures["lookups_saved_per_10k"] == 0


def test_clean_path_gives_one_figure_per_repeat() -> None:
    assert len(clean_path(2, 1)) == 2
