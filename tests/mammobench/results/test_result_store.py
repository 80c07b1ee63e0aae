"""Results folder: atomic cell writes, resume rules, predictions and loading."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from mammobench.results import atomic
from mammobench.results.records import (
    CellKey,
    RecordStatus,
    ResultRecord,
    RunHeader,
    unfinished_cell_records,
)
from mammobench.results.store import OverwritePolicy, ResultStore, ResultStoreError, load_records

DATA = {"dataset": "vindr", "data_source": "synthetic", "synthetic": True}


def make_key(seed: int = 0, fraction: float = 0.5) -> CellKey:
    return CellKey(
        encoder="mammoclip",
        encoder_revision="r1",
        task="vindr-mass",
        task_version="1",
        protocol="linear-probe",
        fraction=fraction,
        seed=seed,
    )


def ok_records(key: CellKey, value: float = 0.8) -> list[ResultRecord]:
    return [
        ResultRecord(
            **key.model_dump(), split="test", metric=metric, value=value, status="ok", **DATA
        )
        for metric in ("auc", "auc@breast")
    ]


def make_header(run_id: str = "run-1") -> RunHeader:
    return RunHeader(
        run_id=run_id,
        mammobench_version="0.1.0",
        git_commit=None,
        git_dirty=None,
        python_version="3.11",
        platform="linux",
        hostname="host",
        device="cpu",
        config={"seeds": [0]},
        started_at=datetime(2025, 1, 1, tzinfo=timezone.utc),
    )


@pytest.fixture
def predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image_id": ["001", "NA", "0x1"],
            "patient_id": ["p1", "p1", "p2"],
            "label": [1, 0, 1],
            "score": [0.1, 1 / 3, float("nan")],
            "is_cc": [True, False, True],
        }
    )


def test_write_and_read_cell(tmp_path, predictions):
    store = ResultStore(tmp_path)
    key = make_key()
    path = store.write_cell(
        ok_records(key), predictions, make_header(), details={"max_detections": 100}
    )

    assert path == tmp_path / "cells" / f"{key.cell_id}.json"
    cell = store.read_cell(key.cell_id)
    assert [record.metric for record in cell.records] == ["auc", "auc@breast"]
    assert all(record.run_id == "run-1" for record in cell.records)
    assert cell.details == {"max_detections": 100}
    assert store.run_header("run-1") == make_header()


def test_predictions_round_trip(tmp_path, predictions):
    store = ResultStore(tmp_path)
    key = make_key()
    store.write_cell(ok_records(key), predictions, make_header())
    loaded = store.load_predictions(key.cell_id)
    # Ids stay text ("001" is not 1, "NA" is not missing) and floats round-trip exactly.
    assert loaded["image_id"].tolist() == ["001", "NA", "0x1"]
    assert loaded["score"].iloc[1] == 1 / 3
    assert np.isnan(loaded["score"].iloc[2])
    assert loaded["is_cc"].tolist() == [True, False, True]
    assert loaded["label"].dtype == np.int64


def test_predictions_file_is_reproducible(tmp_path, predictions):
    store = ResultStore(tmp_path)
    key = make_key()
    store.write_cell(ok_records(key), predictions, make_header())
    first = store.predictions_path(key.cell_id).read_bytes()
    store.write_cell(ok_records(key), predictions, make_header())
    assert store.predictions_path(key.cell_id).read_bytes() == first


def test_predictions_with_list_column_rejected(tmp_path):
    store = ResultStore(tmp_path)
    frame = pd.DataFrame({"image_id": ["a"], "probabilities": [[0.1, 0.9]]})
    with pytest.raises(ResultStoreError, match="probabilities"):
        store.write_cell(ok_records(make_key()), frame, make_header())


def test_changed_predictions_detected(tmp_path, predictions):
    store = ResultStore(tmp_path)
    key = make_key()
    store.write_cell(ok_records(key), predictions, make_header())
    store.predictions_path(key.cell_id).write_bytes(b"tampered")
    with pytest.raises(ResultStoreError, match="does not match"):
        store.load_predictions(key.cell_id)


def test_completed_rules(tmp_path):
    store = ResultStore(tmp_path)
    ok, failed, invalid, missing = make_key(0), make_key(1), make_key(2), make_key(3)
    store.write_cell(ok_records(ok), None, make_header())
    store.write_cell(
        unfinished_cell_records(
            failed, status=RecordStatus.ERROR, metrics=["auc"], message="boom", **DATA
        ),
        None,
        make_header(),
    )
    store.write_cell(
        unfinished_cell_records(
            invalid, status=RecordStatus.INVALID, metrics=["auc"], message="no positives", **DATA
        ),
        None,
        make_header(),
    )
    assert store.completed(ok.cell_id)
    assert not store.completed(failed.cell_id)
    assert store.completed(invalid.cell_id)
    assert not store.completed(missing.cell_id)


def test_should_run_policies(tmp_path):
    store = ResultStore(tmp_path)
    ok, failed, missing = make_key(0), make_key(1), make_key(2)
    store.write_cell(ok_records(ok), None, make_header())
    store.write_cell(
        unfinished_cell_records(
            failed, status=RecordStatus.ERROR, metrics=["auc"], message="boom", **DATA
        ),
        None,
        make_header(),
    )
    expected = {
        OverwritePolicy.ONLY_MISSING: (False, True, True),
        OverwritePolicy.ALWAYS: (True, True, True),
        OverwritePolicy.NEVER: (False, False, True),
    }
    for policy, decisions in expected.items():
        actual = tuple(store.should_run(key.cell_id, policy) for key in (ok, failed, missing))
        assert actual == decisions, policy
    assert store.should_run(ok.cell_id, "only-missing") is False


def test_rewrite_does_not_duplicate(tmp_path, predictions):
    store = ResultStore(tmp_path)
    key = make_key()
    store.write_cell(
        unfinished_cell_records(
            key, status=RecordStatus.ERROR, metrics=["auc", "auc@breast"], message="boom", **DATA
        ),
        None,
        make_header("run-1"),
    )
    store.write_cell(ok_records(key, value=0.7), predictions, make_header("run-2"))
    store.write_cell(ok_records(key, value=0.9), predictions, make_header("run-3"))

    table = load_records(tmp_path)
    assert len(table) == 2
    assert table["value"].tolist() == [0.9, 0.9]
    assert set(table["run_id"]) == {"run-3"}
    assert len(store.run_headers()) == 3


def test_rewrite_without_predictions_drops_old_file(tmp_path, predictions):
    store = ResultStore(tmp_path)
    key = make_key()
    store.write_cell(ok_records(key), predictions, make_header())
    store.write_cell(ok_records(key), None, make_header())
    assert not store.predictions_path(key.cell_id).exists()
    assert store.load_predictions(key.cell_id) is None


def test_mixed_cells_rejected(tmp_path):
    store = ResultStore(tmp_path)
    records = ok_records(make_key(0))[:1] + ok_records(make_key(1))[:1]
    with pytest.raises(ResultStoreError, match="share a cell_id"):
        store.write_cell(records, None, make_header())


def test_repeated_metric_rejected(tmp_path):
    store = ResultStore(tmp_path)
    record = ok_records(make_key())[0]
    with pytest.raises(ResultStoreError, match="appears twice"):
        store.write_cell([record, record], None, make_header())


def test_crash_before_rename_leaves_no_cell(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    key = make_key()

    def crash(source, target):
        raise KeyboardInterrupt("killed between the temporary write and the rename")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        store.write_cell(ok_records(key), None, make_header())
    monkeypatch.undo()

    assert not store.cell_path(key.cell_id).exists()
    assert not store.completed(key.cell_id)
    assert list(store.iter_records()) == []


def test_crash_during_rewrite_reruns_cell(tmp_path, monkeypatch, predictions):
    """A rewrite that dies after the new predictions leaves the cell missing, not mismatched."""
    store = ResultStore(tmp_path)
    key = make_key()
    store.write_cell(ok_records(key, value=0.7), predictions, make_header("run-1"))

    real_write = atomic.write_atomic

    def write_then_crash_on_cell(path, data):
        if path.suffix == ".json" and path.parent.name == "cells":
            raise KeyboardInterrupt("killed before the cell file was written")
        real_write(path, data)

    monkeypatch.setattr("mammobench.results.store.write_atomic", write_then_crash_on_cell)
    with pytest.raises(KeyboardInterrupt):
        store.write_cell(ok_records(key, value=0.9), predictions.iloc[:1], make_header("run-2"))
    monkeypatch.undo()

    assert not store.completed(key.cell_id)
    assert store.should_run(key.cell_id, OverwritePolicy.ONLY_MISSING)


def test_leftover_temp_files_ignored_and_cleaned(tmp_path):
    store = ResultStore(tmp_path)
    key = make_key()
    store.write_cell(ok_records(key), None, make_header())
    stale = store.cells_dir / f".{key.cell_id}.json.x1y2.tmp"
    fresh = store.cells_dir / f".{key.cell_id}.json.z3w4.tmp"
    stale.write_text('{"partial": ')
    fresh.write_text('{"partial": ')
    old = time.time() - 7200
    os.utime(stale, (old, old))

    assert store.cell_ids() == [key.cell_id]
    assert len(list(store.iter_records())) == 2

    ResultStore(tmp_path)  # opening for writing cleans temporary files older than an hour
    assert not stale.exists()
    assert fresh.exists()


def test_corrupt_cell_file_reruns(tmp_path, caplog):
    store = ResultStore(tmp_path)
    key = make_key()
    store.cell_path(key.cell_id).write_text("{ not json")
    assert not store.completed(key.cell_id)
    with pytest.raises(ResultStoreError, match="cannot be read"):
        load_records(tmp_path)


def test_renamed_cell_file_rejected(tmp_path):
    store = ResultStore(tmp_path)
    key = make_key()
    store.write_cell(ok_records(key), None, make_header())
    store.cell_path(key.cell_id).rename(store.cell_path("f" * 20))
    with pytest.raises(ResultStoreError, match="another cell"):
        list(store.iter_cells())


def test_load_records_from_many_folders(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    ResultStore(first).write_cell(ok_records(make_key(0)), None, make_header())
    ResultStore(second).write_cell(ok_records(make_key(1)), None, make_header())
    table = load_records(first, second)
    assert table["seed"].tolist() == [0, 0, 1, 1]
    assert list(table.columns) == list(ResultRecord.model_fields)


def test_load_records_duplicate_cell(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    ResultStore(first).write_cell(ok_records(make_key(), value=0.6), None, make_header())
    ResultStore(second).write_cell(ok_records(make_key(), value=0.7), None, make_header())
    with pytest.raises(ResultStoreError, match="appears in"):
        load_records(first, second)
    latest = load_records(first, second, duplicates="latest")
    assert latest["value"].tolist() == [0.7, 0.7]


def test_load_records_missing_folder(tmp_path):
    with pytest.raises(ResultStoreError, match="not found"):
        load_records(tmp_path / "absent")


def test_load_records_empty_folder(tmp_path):
    ResultStore(tmp_path)
    assert load_records(tmp_path).empty


def test_cell_file_names_schema(tmp_path):
    store = ResultStore(tmp_path)
    key = make_key()
    store.write_cell(ok_records(key), None, make_header())
    payload = json.loads(store.cell_path(key.cell_id).read_text())
    assert payload["format"] == "mammobench-cell"
    assert payload["schema_version"] == 1
    assert payload["predictions"] is None


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timezone
    import numpy as np
    import pandas as pd
    from mammobench.results.records import CellKey, ResultRecord, RunHeader
    from mammobench.results.store import ResultStore

    root, run_id = sys.argv[1], sys.argv[2]
    store = ResultStore(root)
    header = RunHeader(
        run_id=run_id, mammobench_version="0", git_commit=None, git_dirty=None,
        python_version="3", platform="linux", hostname="host", device="cpu",
        config={}, started_at=datetime(2025, 1, 1, tzinfo=timezone.utc),
    )
    rng = np.random.default_rng(0)
    print("ready", flush=True)
    for seed in range(60):
        key = CellKey(encoder="e", encoder_revision="r", task="t", task_version="1",
                      protocol="linear-probe", fraction=1.0, seed=seed)
        if not store.should_run(key.cell_id, "only-missing"):
            continue
        records = [ResultRecord(**key.model_dump(), split="test", metric="auc", value=seed / 60,
                                status="ok", dataset="d", data_source="synthetic", synthetic=True)]
        predictions = pd.DataFrame(
            {"image_id": [f"i{k}" for k in range(2000)], "score": rng.random(2000)}
        )
        store.write_cell(records, predictions, header)
    """
)


def test_sigkill_mid_write_then_resume(tmp_path):
    """A writer killed with SIGKILL leaves only complete cells; a resumed run finishes the rest."""
    writer = tmp_path / "writer.py"
    writer.write_text(_WRITER)
    root = tmp_path / "results"

    process = subprocess.Popen(
        [sys.executable, str(writer), str(root), "run-1"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 60
    while len(list((root / "cells").glob("*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()

    store = ResultStore(root, create=False)
    written = store.cell_ids()
    assert 3 <= len(written) < 60, "the writer should have been killed mid-run"
    for cell_id in written:  # every visible cell and its predictions are complete
        assert store.completed(cell_id)
        assert len(store.load_predictions(cell_id)) == 2000

    subprocess.run(
        [sys.executable, str(writer), str(root), "run-2"], check=True, capture_output=True
    )
    table = load_records(root)
    assert len(table) == 60
    assert sorted(table["seed"]) == list(range(60))


def test_results_path_that_is_file_rejected(tmp_path):
    path = tmp_path / "results"
    path.write_text("not a folder", encoding="utf-8")

    with pytest.raises(ResultStoreError, match="results folder .* cannot be used"):
        ResultStore(path)
