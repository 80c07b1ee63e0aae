"""Aggregation and ranking: mean ± sd over seeds, complete-case ranks, pretraining marks."""

from __future__ import annotations

import pytest

from mammobench.errors import DataError
from mammobench.leaderboard.inputs import read_inputs
from mammobench.leaderboard.table import build_table, rank_values


def board_of(results):
    return build_table(read_inputs([results.root], results.root.parent), "test")


def row(board, label):
    return next(r for r in board.rows if r.label == label)


def column(board, task):
    return next(c for c in board.columns if c.task == task)


def test_entry_mean_sd_and_interval(results):
    for seed, value, ci in ((0, 0.6, (0.5, 0.7)), (1, 0.7, (0.6, 0.8)), (2, 0.8, (0.7, 0.9))):
        results.cell("mammoclip", "vindr-mass", 1.0, seed, value, ci=ci)

    board = board_of(results)
    entry = row(board, "mammoclip").entry(column(board, "vindr-mass"), 1.0)

    assert entry.n == 3
    assert entry.mean == pytest.approx(0.7)
    assert entry.sd == pytest.approx(0.1)
    assert entry.ci_low == pytest.approx(0.6)
    assert entry.ci_high == pytest.approx(0.8)


def test_undefined_seed_not_averaged(results):
    results.cell("mammoclip", "vindr-mass", 1.0, 0, 0.6)
    results.cell("mammoclip", "vindr-mass", 1.0, 1, None, reason="only one class in the evaluated set")

    board = board_of(results)
    entry = row(board, "mammoclip").entry(column(board, "vindr-mass"), 1.0)

    assert entry.n == 1
    assert entry.mean == pytest.approx(0.6)
    assert entry.sd is None
    assert entry.notes == ["ok: only one class in the evaluated set"]


def test_incomplete_row_gets_no_rank(results):
    for encoder, mass, cancer in (("mammoclip", 0.9, 0.8), ("random/resnet18", 0.6, 0.7), ("imagenet/resnet18", 0.7, None)):
        results.cell(encoder, "vindr-mass", 1.0, 0, mass)
        if cancer is not None:
            results.cell(encoder, "rsna-cancer", 1.0, 0, cancer)

    board = board_of(results)

    assert row(board, "imagenet/resnet18").rank is None
    assert row(board, "imagenet/resnet18").mean_rank is None
    assert row(board, "mammoclip").rank == 1
    assert row(board, "random/resnet18").rank == 2
    assert [r.label for r in board.rows] == ["mammoclip", "random/resnet18", "imagenet/resnet18"]


def test_incomplete_row_does_not_shift_ranks(results):
    # imagenet/resnet18 is best on vindr-mass but has no rsna-cancer result, so it must not push
    # the complete rows down on vindr-mass.
    results.cell("imagenet/resnet18", "vindr-mass", 1.0, 0, 0.99)
    for encoder, mass, cancer in (("mammoclip", 0.9, 0.6), ("random/resnet18", 0.6, 0.7)):
        results.cell(encoder, "vindr-mass", 1.0, 0, mass)
        results.cell(encoder, "rsna-cancer", 1.0, 0, cancer)

    board = board_of(results)
    mass_key = column(board, "vindr-mass").key

    assert row(board, "mammoclip").task_ranks[mass_key] == 1.0
    assert row(board, "mammoclip").mean_rank == pytest.approx(1.5)
    assert row(board, "random/resnet18").mean_rank == pytest.approx(1.5)


def test_task_rank_averages_fractions(results):
    for fraction, a, b in ((0.1, 0.9, 0.5), (0.5, 0.6, 0.7), (1.0, 0.6, 0.8)):
        results.cell("mammoclip", "vindr-mass", fraction, 0, a)
        results.cell("random/resnet18", "vindr-mass", fraction, 0, b)

    board = board_of(results)
    key = column(board, "vindr-mass").key

    assert row(board, "mammoclip").task_ranks[key] == pytest.approx((1 + 2 + 2) / 3)
    assert row(board, "random/resnet18").task_ranks[key] == pytest.approx((2 + 1 + 1) / 3)
    assert row(board, "random/resnet18").rank == 1


def test_empty_slot_excluded_from_ranking(results):
    # No encoder has a defined AUC at 10 %, so that slot is left out instead of leaving every
    # row incomplete.
    for encoder, value in (("mammoclip", 0.9), ("random/resnet18", 0.6)):
        results.cell(encoder, "vindr-mass", 0.1, 0, None, status="invalid", reason="no positive patient")
        results.cell(encoder, "vindr-mass", 1.0, 0, value)

    board = board_of(results)

    assert [fraction for _, fraction in board.slots] == [1.0]
    assert row(board, "mammoclip").rank == 1


def test_lower_is_better_ranks(results):
    results.cell("mammoclip", "toy-error", 1.0, 0, 0.2)
    results.cell("random/resnet18", "toy-error", 1.0, 0, 0.1)

    board = board_of(results)

    assert row(board, "random/resnet18").rank == 1


def test_ties_share_rank():
    assert rank_values([0.5, 0.9, 0.5, 0.1], higher_is_better=True) == [2.5, 1.0, 2.5, 4.0]


def test_pretraining_dataset_marked(results):
    results.cell("mammoclip", "vindr-mass", 1.0, 0, 0.9)
    results.cell("mammoclip", "rsna-cancer", 1.0, 0, 0.7)
    results.cell("random/resnet18", "vindr-mass", 1.0, 0, 0.6)

    board = board_of(results)
    mammoclip = row(board, "mammoclip")

    assert mammoclip.pretraining_datasets == ["vindr"]
    assert mammoclip.entry(column(board, "vindr-mass"), 1.0).seen_in_pretraining is True
    assert mammoclip.entry(column(board, "rsna-cancer"), 1.0).seen_in_pretraining is False
    assert row(board, "random/resnet18").entry(column(board, "vindr-mass"), 1.0).seen_in_pretraining is False


def test_incompatible_entry_not_applicable(results):
    results.cell("random/resnet18", "vindr-loc", 1.0, 0, None, status="incompatible", revision="not-built")

    board = board_of(results)
    entry = row(board, "random/resnet18").entry(column(board, "vindr-loc"), 1.0)

    assert entry.incompatible is True
    assert entry.mean is None


def test_later_result_supersedes_error(results):
    # A run that failed before its encoder was built wrote an error under 'not-built'; a later
    # run of the same cell succeeded.
    results.cell("mammoclip", "vindr-mass", 1.0, 0, None, status="error", revision="not-built")
    results.cell("mammoclip", "vindr-mass", 1.0, 0, 0.8)

    board = board_of(results)
    entry = row(board, "mammoclip").entry(column(board, "vindr-mass"), 1.0)

    assert len(board.rows) == 1
    assert entry.n == 1
    assert entry.statuses == {"ok": 1}


def test_revisions_get_own_rows(results):
    results.cell("mammoclip", "vindr-mass", 1.0, 0, 0.8, revision="r1")
    results.cell("mammoclip", "vindr-mass", 1.0, 0, 0.7, revision="r2")

    board = board_of(results)

    assert sorted(r.label for r in board.rows) == ["mammoclip@r1", "mammoclip@r2"]


def test_mixed_data_sources_rejected(tmp_path, make_results):
    synthetic = make_results(tmp_path / "synthetic")
    real = make_results(tmp_path / "real", synthetic=False)
    synthetic.cell("mammoclip", "vindr-mass", 1.0, 0, 0.8)
    real.cell("mammoclip", "rsna-cancer", 1.0, 0, 0.7)

    with pytest.raises(DataError, match="mix synthetic and real"):
        build_table(read_inputs([synthetic.root, real.root], tmp_path), "test")


def test_synthetic_title(results):
    results.cell("mammoclip", "vindr-mass", 1.0, 0, 0.8)

    board = board_of(results)

    assert board.synthetic is True
    assert "SYNTHETIC" in board.title


def test_records_digest_ignores_run_ids(tmp_path, make_results):
    first = make_results(tmp_path / "first")
    second = make_results(tmp_path / "second")
    second.header = second.header.model_copy(update={"run_id": "run-2"})
    for writer in (first, second):
        writer.cell("mammoclip", "vindr-mass", 1.0, 0, 0.8)

    digests = {read_inputs([writer.root], tmp_path).records_sha256 for writer in (first, second)}

    assert len(digests) == 1
