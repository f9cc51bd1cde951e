"""Drift statistics, reference bins and the GX suite on small synthetic data."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from botsift.drift import (
    BINS_TABLE,
    REFERENCE_TABLE,
    DriftSettings,
    bin_shares,
    build_reference,
    feature_reference,
    js_divergence,
    psi,
    range_mostly,
    reference_bins,
)
from botsift.errors import BotsiftError


def test_psi_matches_a_direct_numpy_formula() -> None:
    rng = np.random.default_rng(0)
    r = rng.dirichlet(np.full(12, 5.0))  # every share well above the floor
    c = rng.dirichlet(np.full(12, 5.0))
    assert min(r.min(), c.min()) > 1e-3
    expected = sum((ci - ri) * np.log(ci / ri) for ri, ci in zip(r, c, strict=True))
    assert psi(r, c) == pytest.approx(expected, rel=1e-12)
    assert psi(r, r) == 0.0


def test_psi_floors_empty_bins_and_ignores_bins_empty_on_both_sides() -> None:
    r = np.array([0.5, 0.5, 0.0, 0.0])
    c = np.array([0.49, 0.5, 0.01, 0.0])
    eps = 1e-4
    expected = ((0.49 - 0.5) * np.log(0.49 / 0.5) + (0.01 - eps) * np.log(0.01 / eps))
    assert psi(r, c, eps) == pytest.approx(expected, rel=1e-12)


def test_js_divergence_matches_scipy_base_2() -> None:
    rng = np.random.default_rng(1)
    for _ in range(5):
        r = rng.dirichlet(np.ones(8))
        c = rng.dirichlet(np.ones(8))
        c[3] = 0
        c /= c.sum()
        assert js_divergence(r, c) == pytest.approx(jensenshannon(r, c, base=2) ** 2, rel=1e-9)
    assert js_divergence(np.array([1.0, 0]), np.array([0, 1.0])) == pytest.approx(1.0)


def test_bins_dedupe_discrete_values_and_keep_novelty_and_null_bins() -> None:
    x = np.array([0.0] * 90 + [1.0] * 10 + [np.nan] * 5)
    edges = reference_bins(x)
    assert edges[0] == 0.0 and edges[1] == 1.0 and len(edges) == 3
    shares = bin_shares(x, edges)  # below, [0,1), [1, 1+), above, null
    np.testing.assert_allclose(shares, [0, 90 / 105, 10 / 105, 0, 5 / 105])
    new = bin_shares(np.array([-1.0, 0.0, 1.0, 2.0, np.nan]), edges)
    np.testing.assert_allclose(new, [0.2, 0.2, 0.2, 0.2, 0.2])


def test_bins_reject_an_all_null_reference() -> None:
    with pytest.raises(BotsiftError, match="all null"):
        reference_bins(np.array([np.nan, np.nan]))


def test_bins_frame_bounds_reproduce_bin_shares() -> None:
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.exponential(3, 2000), np.zeros(500), [np.nan] * 20])
    ref = feature_reference(x, name="f")
    frame = ref.bins_frame()
    y = np.concatenate([rng.exponential(4, 1000), [-5.0, 1e9, np.nan]])
    counts = []
    for row in frame.itertuples():
        if row.bin_kind == "null":
            counts.append(np.isnan(y).sum())
            continue
        lo = -np.inf if pd.isna(row.lower) else row.lower
        hi = np.inf if pd.isna(row.upper) else row.upper
        counts.append(((y >= lo) & (y < hi)).sum())
    np.testing.assert_allclose(np.array(counts) / len(y), bin_shares(y, ref.edges))
    assert frame.loc[frame.bin_kind != "regular", "reference_share"].iloc[:2].sum() == 0


def test_noise_floor_grows_with_a_trend_inside_the_reference() -> None:
    rng = np.random.default_rng(3)
    days = np.repeat(np.arange(7), 3000)
    stable = rng.normal(0, 1, days.size)
    trending = rng.normal(days * 0.3, 1)
    assert feature_reference(trending, days).psi_noise > 20 * feature_reference(stable, days).psi_noise


@pytest.fixture(scope="module")
def reference_built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("drift")
    rng = np.random.default_rng(4)
    n = 3000
    frame = pd.DataFrame({
        "as_of_date": np.repeat(pd.date_range("2026-01-01", periods=3).date, n),
        "a": rng.normal(10, 2, 3 * n), "b": rng.poisson(0.3, 3 * n).astype(float),
    })
    con = duckdb.connect(str(tmp / "wh.duckdb"))
    info = build_reference(con, "v1", ["a", "b"], frame, scores=rng.uniform(0, 1, 3 * n),
                           expectations_dir=tmp / "expectations",
                           settings=DriftSettings(kl_threshold=0.02))
    assert info["features"] == ["a", "b", "bot_probability"]
    assert Path(info["suite_path"]).is_file()
    con.close()
    return tmp / "wh.duckdb", tmp / "expectations"


def test_build_reference_writes_tables_and_is_idempotent(reference_built: tuple[Path, Path]
                                                           ) -> None:
    wh, _ = reference_built
    con = duckdb.connect(str(wh), read_only=True)
    rows = con.sql(f"select feature, is_score, n_rows, reference_end_date from {REFERENCE_TABLE} "
                   "order by feature").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("a", False, 9000), ("b", False, 9000),
                                                    ("bot_probability", True, 9000)]
    assert str(rows[0][3]) == "2026-01-03"
    sums = con.sql(f"select feature, sum(reference_share) from {BINS_TABLE} group by 1").fetchall()
    for _, s in sums:
        assert s == pytest.approx(1.0)


def test_suite_passes_on_reference_like_data_and_fails_on_a_shift(
        reference_built: tuple[Path, Path]) -> None:
    from botsift.expectations import validate_snapshots

    _, root = reference_built
    rng = np.random.default_rng(5)
    n = 3000
    same = pd.DataFrame({"as_of_date": pd.Timestamp("2026-01-04").date(),
                         "a": rng.normal(10, 2, n), "b": rng.poisson(0.3, n).astype(float)})
    shifted = same.assign(as_of_date=pd.Timestamp("2026-01-05").date(),
                          a=rng.normal(10.6, 2, n))
    out = validate_snapshots(pd.concat([same, shifted]), "v1", root, build_docs=False)
    assert set(out["feature"]) == {"a", "b"}  # the score is not in the frame: skipped
    failed = out[~out["success"]]
    assert failed.empty or set(failed["as_of_date"].astype(str)) == {"2026-01-05"}
    assert {"a"} == set(failed["feature"]), failed
    assert "expect_column_mean_to_be_between" in set(failed["expectation_type"])


def test_validate_without_suite_says_what_to_do(tmp_path: Path) -> None:
    from botsift.expectations import validate_snapshots

    with pytest.raises(BotsiftError, match="build the reference"):
        validate_snapshots(pd.DataFrame({"as_of_date": [], "a": []}), "nope", tmp_path)


def test_a_corrupt_suite_or_project_file_is_named_in_one_line(reference_built: tuple[Path, Path],
                                                               tmp_path: Path) -> None:
    import shutil

    from botsift.expectations import validate_snapshots

    root = tmp_path / "expectations"
    shutil.copytree(reference_built[1], root)
    frame = pd.DataFrame({"as_of_date": [pd.Timestamp("2026-01-04").date()], "a": [1.0], "b": [0.0]})
    suite = root / "gx" / "expectations" / "features__v1.json"
    suite.write_text(suite.read_text()[:60])
    # a truncated suite is not "no suite": it is there and unreadable
    with pytest.raises(BotsiftError, match=r"the GX suite .*features__v1.json cannot be read"):
        validate_snapshots(frame, "v1", root, build_docs=False)
    (root / "gx" / "great_expectations.yml").write_text("config_version: [[[\n")
    with pytest.raises(BotsiftError, match=r"great_expectations.yml cannot be read \(\w+"):
        validate_snapshots(frame, "v1", root, build_docs=False)


def test_data_docs_store_the_latest_date_only_and_keep_the_newest_runs(
        reference_built: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    from botsift.expectations import data_docs_dir, validate_snapshots

    root = tmp_path / "expectations"
    shutil.copytree(reference_built[1], root)
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"as_of_date": np.repeat(pd.to_datetime(["2026-01-04", "2026-01-05"]).date, 500),
                          "a": rng.normal(10, 2, 1000), "b": rng.poisson(0.3, 1000).astype(float)})
    store = root / "gx" / "uncommitted" / "validations"
    pages = data_docs_dir(root) / "validations"

    def runs(folder: Path, suffix: str) -> list[str]:
        return sorted(p.parent.parent.name + "/" + p.parent.name for p in folder.rglob(f"*{suffix}")
                      if p.name != ".ge_store_backend_id")

    out = validate_snapshots(frame, "v1", root, keep_docs=2)
    assert set(out["as_of_date"].astype(str)) == {"2026-01-04", "2026-01-05"}
    # the latest date is stored and rendered; the earlier one is validated, not stored
    first = runs(store, ".json")
    assert len(first) == 1 and first[0].startswith("as_of_2026-01-05/"), first
    assert runs(pages, ".html") == first
    assert (data_docs_dir(root) / "expectations" / "features__v1__present.html").is_file()
    for _ in range(2):
        validate_snapshots(frame, "v1", root, keep_docs=2)
    kept = runs(store, ".json")
    assert len(kept) == 2 and first[0] not in kept, kept  # the oldest run went
    assert runs(pages, ".html") == kept
    assert not (store / "features__v1__present" / first[0]).exists()  # and its folder
    index = (data_docs_dir(root) / "index.html").read_text()
    assert all(run.split("/")[1] in index for run in kept)
    assert first[0].split("/")[1] not in index


def test_the_present_suite_is_written_once_and_again_when_the_suite_changes(
        reference_built: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    from botsift.expectations import validate_snapshots

    root = tmp_path / "expectations"
    shutil.copytree(reference_built[1], root)
    frame = pd.DataFrame({"as_of_date": [pd.Timestamp("2026-01-04").date()] * 50,
                          "a": np.linspace(5, 15, 50), "b": np.zeros(50)})
    present = root / "gx" / "expectations" / "features__v1__present.json"
    validate_snapshots(frame, "v1", root, build_docs=False)
    written = present.read_text()
    columns = {e["kwargs"]["column"] for e in json.loads(written)["expectations"]}
    assert columns == {"a", "b"}  # the score's expectations are left out
    validate_snapshots(frame, "v1", root, build_docs=False)
    assert present.read_text() == written  # unchanged suite: not written again (same ids)
    # a new reference for the version (retraining under the same name) changes its bounds
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    build_reference(con, "v1", ["a", "b"], frame.assign(a=frame["a"] + 100.0),
                    scores=np.linspace(0, 1, 50), expectations_dir=root)
    con.close()
    out = validate_snapshots(frame, "v1", root, build_docs=False)
    assert present.read_text() != written
    mean = out[(out["feature"] == "a") & (out["expectation_type"] == "expect_column_mean_to_be_between")]
    assert not mean["success"].any()  # validated against the new bounds (mean near 110)


def test_validating_leaves_the_tracked_gx_project_file_unchanged(
        reference_built: tuple[Path, Path], tmp_path: Path) -> None:
    # expectations/gx/great_expectations.yml is in git: GX rewrites it whenever a datasource
    # is added, and add_or_update gave the asset new ids on every run (a dirty tree per refresh)
    import shutil

    from botsift.expectations import validate_snapshots
    from botsift.project import project_dir

    root = tmp_path / "expectations"
    shutil.copytree(reference_built[1], root)
    tracked = project_dir() / "expectations" / "gx" / "great_expectations.yml"
    shutil.copy(tracked, root / "gx" / "great_expectations.yml")
    frame = pd.DataFrame({"as_of_date": [pd.Timestamp("2026-01-04").date()] * 50,
                          "a": np.linspace(5, 15, 50), "b": np.zeros(50)})
    for docs in (False, True):
        validate_snapshots(frame, "v1", root, build_docs=docs)
        assert (root / "gx" / "great_expectations.yml").read_text() == tracked.read_text()


# A stand-in for pyspark 4 whose Spark Connect package exits the process on import, as the
# real one does under `python -c` when grpc is missing (it takes the run for its doctests).
_EXITING_PYSPARK = {
    "pyspark/__init__.py": "__version__ = '4.3.0'\n",
    "pyspark/sql/__init__.py": "",
    "pyspark/sql/connect/__init__.py": "import sys\nsys.exit(0)\n",
}


@pytest.mark.parametrize("shield", [True, False])
def test_gx_import_survives_pyspark_connect_exit_under_python_c(tmp_path: Path, shield: bool) -> None:
    import subprocess
    import sys

    for rel, text in _EXITING_PYSPARK.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    # importing botsift.expectations applies the shield; the unshielded run imports GX directly
    code = (("import botsift.expectations\n" if shield else "")
            + "import great_expectations\nprint('gx imported')\n")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=False, timeout=300)
    if shield:
        assert out.returncode == 0, out.stderr[-2000:]
        assert "gx imported" in out.stdout
    else:  # the failure the shield exists for: the process ends silently with status 0
        assert "gx imported" not in out.stdout


def test_single_day_reference_noise_floor_is_its_sampling_noise() -> None:
    # One reference day is the whole pooled sample: its own drift against it was 0, so every
    # threshold fell to its floor and fresh samples of the same distribution read as drift.
    rng = np.random.default_rng(11)
    x = rng.normal(10, 2, 500)
    ref = feature_reference(x, np.repeat(np.datetime64("2026-01-01"), x.size))
    assert feature_reference(x).psi_noise == ref.psi_noise  # no dates: the same random parts
    fresh = [bin_shares(rng.normal(10, 2, 500), ref.edges) for _ in range(50)]
    fresh_psi = np.array([psi(ref.shares, f) for f in fresh])
    fresh_js = np.array([js_divergence(ref.shares, f) for f in fresh])
    assert 0.3 * np.median(fresh_psi) < ref.psi_noise < 3 * np.median(fresh_psi)
    assert 8 * ref.psi_noise > fresh_psi.max()
    assert 8 * ref.js_noise > fresh_js.max()
    assert ref.kl_noise > 0
    days = np.repeat(np.arange(7), 500)  # two or more days: their own drift, as before
    assert feature_reference(rng.normal(0, 1, days.size), days).min_daily_rows == 500


def test_range_check_allows_for_the_reference_size() -> None:
    assert range_mostly(21_000) == DriftSettings().range_mostly  # large: unchanged 0.999
    assert range_mostly(100) == pytest.approx(1 - 0.1115, abs=1e-3)
    # a fresh value falls outside the min/max of n reference values with probability
    # 2/(n+1); the allowance must cover a fresh sample's share outside nearly always
    rng = np.random.default_rng(12)
    for n in (100, 1000):
        outside = []
        for _ in range(2000):
            ref, new = rng.normal(size=n), rng.normal(size=20_000)
            outside.append(np.mean((new < ref.min()) | (new > ref.max())))
        assert np.mean(outside) == pytest.approx(2 / (n + 1), rel=0.1)
        assert np.mean(np.array(outside) > 1 - range_mostly(n)) < 0.002


@pytest.mark.parametrize("n", [300, 1000])
def test_suite_of_a_single_day_reference_passes_fresh_samples_and_fails_a_shift(
        tmp_path: Path, n: int) -> None:
    from botsift.expectations import validate_snapshots

    rng = np.random.default_rng(13)

    def sample(day: str, shift: float = 0.0) -> pd.DataFrame:
        return pd.DataFrame({"as_of_date": pd.Timestamp(day).date(),
                             "a": rng.normal(10 + shift, 2, n),
                             "b": rng.poisson(3.0, n).astype(float)})

    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    build_reference(con, "v1", ["a", "b"], sample("2026-01-01"),
                    expectations_dir=tmp_path / "expectations")
    con.close()
    same = [sample(f"2026-01-{d:02d}") for d in range(2, 8)]
    out = validate_snapshots(pd.concat([*same, sample("2026-01-08", shift=2.0)]), "v1",
                             tmp_path / "expectations", build_docs=False)
    failed = out[~out["success"]]
    assert set(failed["as_of_date"].astype(str)) == {"2026-01-08"}, failed
    assert set(failed["feature"]) == {"a"}
    assert {"expect_column_mean_to_be_between",
            "expect_column_kl_divergence_to_be_less_than"} <= set(failed["expectation_type"])


def test_an_expectation_gx_cannot_compute_records_why(reference_built: tuple[Path, Path]
                                                       ) -> None:
    from botsift.expectations import validate_snapshots

    _, root = reference_built
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"as_of_date": pd.Timestamp("2026-01-04").date(),
                          "a": rng.normal(10, 2, 300).astype(str),  # a retyped column
                          "b": rng.poisson(0.3, 300).astype(float)})
    out = validate_snapshots(frame, "v1", root, build_docs=False)
    mean = out[(out["feature"] == "a")
               & (out["expectation_type"] == "expect_column_mean_to_be_between")].iloc[0]
    assert not mean["success"]
    observed = json.loads(mean["observed_json"])
    assert isinstance(observed, dict) and observed.get("error"), mean["observed_json"]
    ok = out[(out["feature"] == "b") & out["success"]]
    assert not ok.empty and all("error" not in str(j) for j in ok["observed_json"])


def test_a_gx_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    """BOTSIFT_EXPECTATIONS_DIR under a file: a NotADirectoryError traceback, after the
    version was registered (a twentieth-session audit)."""
    from botsift.expectations import _context

    blocker = tmp_path / "afile"
    blocker.write_text("")
    with pytest.raises(BotsiftError, match=r"cannot create the Great Expectations folder "
                                           r".*afile/sub: .*BOTSIFT_EXPECTATIONS_DIR"):
        _context(blocker / "sub")
