"""The CLI: train, models list/promote/rollback, and clean errors (no traceback)."""
from __future__ import annotations

import duckdb
import pytest
from typer.testing import CliRunner

from botsift import cli

pytestmark = pytest.mark.integration
runner = CliRunner()


def _sql(wh, sql):
    con = duckdb.connect(str(wh))
    con.execute(sql)
    con.close()


def _fast(monkeypatch):
    """Tiny grids: the CLI's wiring is under test here, not the search."""
    import botsift.train as train_mod
    from conftest import FAST

    real = train_mod.train_models

    def fast(*args, **kwargs):
        kwargs.update({k: v for k, v in FAST.items() if k != "progress"})
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "train_models", fast)


@pytest.mark.parametrize("breakage, message", [
    ("drop table marts.ml_training_examples", "not found"),
    ("delete from marts.ml_training_examples", "has no rows"),
    ("update marts.ml_training_examples set label = 0", "one class only"),
])
def test_train_errors_are_one_line(project, breakage, message):
    _, wh, _ = project
    _sql(wh, breakage)
    res = runner.invoke(cli.app, ["train"])
    assert res.exit_code == 1
    assert message in res.output and "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_train_promote_rollback(project, monkeypatch):
    _fast(monkeypatch)
    res = runner.invoke(cli.app, ["train", "--no-per-region", "--seed", "1"])
    assert res.exit_code == 0, res.output
    assert "(candidate)" in res.output
    import botsift.registry as reg
    from botsift.project import warehouse_path
    wh = warehouse_path()
    v1 = reg.list_versions(wh)[0]["model_version"]
    # A second version needs a new id: versions are timestamped to the second.
    monkeypatch.setattr("botsift.train.new_model_version", lambda now=None: "20990101T000000-x")
    assert runner.invoke(cli.app, ["train", "--no-per-region"]).exit_code == 0
    res = runner.invoke(cli.app, ["models", "list"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and v1 in res.output and "candidate" in res.output
    assert runner.invoke(cli.app, ["models", "promote", v1]).exit_code == 0
    assert runner.invoke(cli.app, ["models", "promote", "20990101T000000-x"]).exit_code == 0
    res = runner.invoke(cli.app, ["models", "rollback"])
    assert res.exit_code == 0 and v1 in res.output
    assert reg.load_active(wh).model_version == v1
    res = runner.invoke(cli.app, ["models", "promote", "nope", "--shadow"])
    assert res.exit_code == 1 and "not registered" in res.output
    res = runner.invoke(cli.app, ["models", "rollback"])
    assert res.exit_code == 1 and "no earlier active" in res.output


def test_locked_warehouse_is_one_line_not_a_traceback(locked_warehouse):
    """A `dbt build` holds the warehouse's write lock: commands run meanwhile say so."""
    wh, pid = locked_warehouse
    for args in (["models", "list"], ["models", "promote", "v1"], ["score", "--check"]):
        res = runner.invoke(cli.app, args, env={"BOTSIFT_WAREHOUSE": str(wh), "COLUMNS": "400"})
        assert res.exit_code == 1, (args, res.output)
        assert f"is locked by another process (PID {pid})" in res.output, res.output
        assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def test_a_mistyped_warehouse_is_named_and_not_created(tmp_path):
    """Only simulate and load-accounts create a warehouse: elsewhere a wrong path is an error."""
    wh = tmp_path / "typo" / "wh.duckdb"
    for args in (["models", "list"], ["models", "promote", "v1"], ["models", "rollback"],
                 ["retrain"], ["robustness"], ["score", "--check"]):
        res = runner.invoke(cli.app, args, env={"BOTSIFT_WAREHOUSE": str(wh), "COLUMNS": "400"})
        assert res.exit_code == 1, (args, res.output)
        assert f"warehouse {wh} not found" in res.output, (args, res.output)
        assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
        assert not wh.parent.exists(), args


def test_outside_the_project_every_command_says_so_in_one_line(tmp_path):
    """Run with no project found: the default warehouse path cannot be resolved."""
    (tmp_path / "accounts.csv").write_text("id,screen_name\n1,a\n")
    env = {"BOTSIFT_PROJECT_DIR": str(tmp_path), "BOTSIFT_WAREHOUSE": None, "COLUMNS": "400"}
    for args in (["simulate", "--accounts", "100", "--days", "2"],
                 ["load-accounts", str(tmp_path / "accounts.csv"), "--preset", "cresci-2015"],
                 ["score", "--check"], ["feature-report"], ["models", "list"]):
        res = runner.invoke(cli.app, args, env=env)
        assert res.exit_code == 1, (args, res.output)
        assert f"BOTSIFT_PROJECT_DIR={tmp_path} holds no dbt_project.yml" in res.output, (args, res.output)
        assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1, args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts.csv"]


@pytest.mark.parametrize("command", [["simulate", "--accounts", "100"], ["train"], ["retrain"],
                                     ["demo"], ["evaluate", "x.csv"]])
@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_a_seed_out_of_range_is_refused_before_anything_runs(tmp_path, command, seed):
    res = runner.invoke(cli.app, [*command, "--seed", seed],
                        env={"BOTSIFT_WAREHOUSE": str(tmp_path / "wh.duckdb"), "COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    bound = "greater than or equal to 0" if seed == "-1" else "less than or equal to 4294967295"
    assert f"Invalid value for '--seed': Input should be {bound}" in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "wh.duckdb").exists()


def test_demo_does_not_delete_a_warehouse_it_did_not_simulate(tmp_path):
    import duckdb

    wh = tmp_path / "mine.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create table precious as select 1 as x")
    con.close()
    res = runner.invoke(cli.app, ["demo", "--accounts", "100"],
                        env={"BOTSIFT_WAREHOUSE": str(wh), "COLUMNS": "400"})
    assert res.exit_code == 1, res.output
    assert f"{wh} is not a demo warehouse (it holds no raw._simulation)" in res.output, res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select x from precious").fetchall() == [(1,)]
    con.close()


@pytest.mark.parametrize("start", ["2026-13-45", "yesterday"])
def test_simulate_names_a_bad_start_date(tmp_path, start):
    wh = tmp_path / "wh.duckdb"
    res = runner.invoke(cli.app, ["simulate", "--accounts", "100", "--days", "2",
                                  "--start-date", start, "--warehouse", str(wh)])
    assert res.exit_code == 1 and f"--start-date '{start}' is not a date YYYY-MM-DD" in res.output
    assert "Traceback" not in res.output and not wh.exists()


def test_score_check_refuses_a_negative_tolerance(tmp_path):
    res = runner.invoke(cli.app, ["score", "--check", "--atol", "-1"],
                        env={"BOTSIFT_WAREHOUSE": str(tmp_path / "wh.duckdb")})
    assert res.exit_code == 1 and "atol -1 must be 0 or more" in res.output, res.output


def test_great_expectations_info_lines_are_kept_out_unless_verbose(tmp_path):
    import logging

    gx_log = logging.getLogger("great_expectations")
    env = {"BOTSIFT_WAREHOUSE": str(tmp_path / "missing.duckdb"), "COLUMNS": "200"}
    try:
        for args, level in ((["models", "list"], logging.WARNING),
                            (["--verbose", "models", "list"], logging.NOTSET)):
            gx_log.setLevel(logging.NOTSET)
            res = runner.invoke(cli.app, args, env=env)
            assert res.exit_code == 1 and "not found" in res.output, res.output
            assert gx_log.level == level, args
    finally:
        gx_log.setLevel(logging.NOTSET)


@pytest.mark.parametrize("command", [["train"], ["retrain", "--decide"], ["score", "--check"],
                                     ["feature-report"], ["robustness"], ["models", "list"],
                                     ["models", "promote", "v1"], ["models", "retire", "v1"],
                                     ["models", "rollback"]])
def test_every_warehouse_command_takes_warehouse(tmp_path, command):
    wh = tmp_path / "elsewhere" / "wh.duckdb"
    # the env names another warehouse: --warehouse wins
    res = runner.invoke(cli.app, [*command, "--warehouse", str(wh)],
                        env={"BOTSIFT_WAREHOUSE": str(tmp_path / "other.duckdb"), "COLUMNS": "300"})
    assert res.exit_code == 1, res.output
    assert f"warehouse {wh} not found" in res.output, res.output
    assert "Traceback" not in res.output
