"""Shared fixtures: a synthetic training table in a temp project, one trained version, and a
warehouse file locked by another process."""
from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from threadpoolctl import threadpool_limits

from botsift.models import SMALL_GRIDS
from botsift.train import TrainingResult, train_models
from training_fixtures import build_project, make_training_examples

FAST = {"grids": SMALL_GRIDS, "n_splits": 3, "bootstrap_resamples": 100, "progress": False,
        "weight_step": 0.25}


@pytest.fixture(scope="session", autouse=True)
def _one_openmp_thread():
    """HistGradientBoosting's OpenMP threads slow to a crawl on a busy 2-core box; tests use 1."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="session", autouse=True)
def _dbt_logs_of_this_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """dbt logs to a folder of this pytest process (dbt's own DBT_LOG_PATH): the xdist workers'
    dbt runs would otherwise share the project's logs/dbt.log, and rotating it under another
    process loses lines. A test passing --log-path still wins."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DBT_LOG_PATH", str(tmp_path_factory.mktemp("dbt-logs")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def examples_table() -> pa.Table:
    """6,000 rows, 3% bots in the population, humans down-sampled to half."""
    return make_training_examples(6000, positives_share=0.03, negative_rate=0.5,
                                  separation=2.0, seed=7)


@contextlib.contextmanager
def write_lock_held(path: Path) -> Iterator[int]:
    """Another process holds ``path`` open for writing (as `dbt build` does); yields its pid."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(120)", str(path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def locked_warehouse(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """(path, pid): a warehouse file another process holds open for writing, as `dbt build` does."""
    path = tmp_path / "locked.duckdb"
    with write_lock_held(path) as pid:
        yield path, pid


@pytest.fixture
def project(tmp_path: Path, examples_table: pa.Table, monkeypatch: pytest.MonkeyPatch
            ) -> tuple[Path, Path, dict]:
    """A temp project (root, warehouse, manifest); the env points botsift at it."""
    root = tmp_path / "proj"
    wh, manifest = build_project(root, examples_table)
    monkeypatch.setenv("BOTSIFT_PROJECT_DIR", str(root))
    monkeypatch.setenv("BOTSIFT_WAREHOUSE", str(wh))
    monkeypatch.setenv("BOTSIFT_ARTIFACTS", str(root / "artifacts"))
    return root, wh, manifest


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, examples_table: pa.Table
            ) -> tuple[TrainingResult, Path, dict]:
    """One model version trained with tiny grids (global + per-region where possible)."""
    root = tmp_path_factory.mktemp("trained")
    wh, manifest = build_project(root, examples_table)
    result = train_models(wh, manifest, root / "artifacts", per_region=True,
                          min_region_positives=60, min_region_validation_positives=10,
                          model_version="20261123T101500-test000", **FAST)
    return result, wh, manifest
