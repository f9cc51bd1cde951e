"""Finding the project, the warehouse and the artifacts; running dbt."""
from __future__ import annotations

from pathlib import Path

import pytest

from botsift.errors import BotsiftError
from botsift.project import (
    artifacts_dir,
    connect_warehouse,
    dbt_env,
    expectations_dir,
    project_dir,
    run_dbt,
    warehouse_path,
)

ENV = ("BOTSIFT_PROJECT_DIR", "BOTSIFT_WAREHOUSE", "BOTSIFT_ARTIFACTS", "BOTSIFT_EXPECTATIONS_DIR",
       "DBT_PROFILES_DIR")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "proj"
    (root / "models" / "deep").mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: x\n")
    return root


def test_project_dir_searches_parents_or_takes_the_env(root: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert project_dir(root / "models" / "deep") == root.resolve()
    with pytest.raises(BotsiftError, match="no botsift dbt project found"):
        project_dir(tmp_path)
    monkeypatch.setenv("BOTSIFT_PROJECT_DIR", str(root))
    assert project_dir(tmp_path) == root.resolve()
    monkeypatch.setenv("BOTSIFT_PROJECT_DIR", str(tmp_path))
    with pytest.raises(BotsiftError, match="holds no dbt_project.yml"):
        project_dir()


def test_paths_default_under_the_project_and_honour_the_env(root: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert warehouse_path(root) == root / "warehouse" / "botsift.duckdb"
    assert artifacts_dir(root) == root / "artifacts"
    assert expectations_dir(root) == root / "expectations"
    monkeypatch.setenv("BOTSIFT_WAREHOUSE", "data/wh.duckdb")  # relative: to the project
    monkeypatch.setenv("BOTSIFT_ARTIFACTS", "/abs/artifacts")
    monkeypatch.setenv("BOTSIFT_EXPECTATIONS_DIR", "gx")
    assert warehouse_path(root) == root / "data" / "wh.duckdb"
    assert artifacts_dir(root) == Path("/abs/artifacts")
    assert expectations_dir(root) == root / "gx"
    env = dbt_env(root)
    assert env["BOTSIFT_WAREHOUSE"] == str(root / "data" / "wh.duckdb")
    assert env["BOTSIFT_PROJECT_DIR"] == str(root) and env["DO_NOT_TRACK"] == "1"
    assert env["DBT_PROFILES_DIR"] == str(root / "profiles")
    monkeypatch.setenv("DBT_PROFILES_DIR", "/elsewhere")
    assert dbt_env(root)["DBT_PROFILES_DIR"] == "/elsewhere"  # a user's profiles win


def test_run_dbt_failure_is_one_error_with_dbt_output_tail(root: Path) -> None:
    with pytest.raises(BotsiftError, match=r"dbt no-such-command failed \(exit 2\)") as info:
        run_dbt(["no-such-command"], root, quiet=True)
    assert str(info.value).splitlines()[-1] == "Error: No such command 'no-such-command'."
    assert (root / "warehouse").is_dir()  # the warehouse folder is made before dbt runs


def test_connect_warehouse_names_a_lock_held_elsewhere(locked_warehouse: tuple[Path, int]) -> None:
    path, pid = locked_warehouse
    for read_only in (False, True):
        with pytest.raises(BotsiftError, match=rf"{path} is locked by another process "
                                               rf"\(PID {pid}\): .*dbt build"):
            connect_warehouse(path, read_only=read_only)


def test_connect_warehouse_needs_the_file_unless_told_to_create_it(tmp_path: Path) -> None:
    path = tmp_path / "new" / "wh.duckdb"
    for read_only in (True, False):
        with pytest.raises(BotsiftError, match=r"wh.duckdb not found: run `botsift simulate`"):
            connect_warehouse(path, read_only=read_only)
        assert not path.parent.exists()  # a mistyped path never becomes a new warehouse
    connect_warehouse(path, create=True).close()
    assert path.is_file()
    con = connect_warehouse(path, read_only=True)
    assert con.execute("select 42").fetchall() == [(42,)]
    con.close()
    path.write_bytes(b"not a duckdb file" * 512)
    with pytest.raises(BotsiftError, match="wh.duckdb is not a DuckDB warehouse file"):
        connect_warehouse(path, read_only=True)
    with pytest.raises(BotsiftError, match="is a folder: set BOTSIFT_WAREHOUSE"):
        connect_warehouse(tmp_path, create=True)
    # DuckDB itself opens an existing CSV as a database of its own (an empty warehouse)
    csv = tmp_path / "accounts.csv"
    csv.write_text("id,created_at\n1,2015-01-01\n")
    for read_only in (True, False):
        with pytest.raises(BotsiftError, match="accounts.csv is not a DuckDB warehouse file"):
            connect_warehouse(csv, read_only=read_only)


def test_a_corrupt_warehouse_is_not_reported_as_locked(tmp_path: Path) -> None:
    """DuckDB's corruption message says "block", which held the word "lock"."""
    path = tmp_path / "wh.duckdb"
    con = connect_warehouse(path, create=True)
    con.execute("create table t as select range as x from range(100000)")
    con.close()
    with path.open("r+b") as f:
        f.seek(4096)
        f.write(b"A" * 8192)
    with pytest.raises(BotsiftError, match=r"cannot open warehouse .*wh.duckdb: .*[Cc]orrupt") as info:
        connect_warehouse(path)
    assert "locked" not in str(info.value)


def test_a_warehouse_folder_that_cannot_be_made_is_one_error(tmp_path: Path) -> None:
    blocker = tmp_path / "export.csv"
    blocker.write_text("id\n")
    with pytest.raises(BotsiftError, match=r"cannot create the warehouse's folder .*export.csv: "):
        connect_warehouse(blocker / "wh.duckdb", create=True)


REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("path", sorted(
    str(p.relative_to(REPO)) for folder in ("models", "macros", "tests/dbt", "profiles", "expectations")
    for p in (REPO / folder).rglob("*.yml")) + ["dbt_project.yml", "selectors.yml"])
def test_every_project_yaml_file_parses(path: str) -> None:
    # a YAML slip (an unquoted ': ' in a description) stops every dbt build; catch it here
    # in milliseconds rather than in a slow integration run
    import yaml

    file = REPO / path
    if not file.exists():
        pytest.skip(f"{path} not in this project")
    text = file.read_text()
    doc = yaml.safe_load(text)
    assert doc is not None or not text.strip()
