"""Build a small simulated, trained and scored warehouse for integration tests (dbt in a subprocess)."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from botsift.project import dbt_env
from botsift.registry import promote
from botsift.simulate import SimulationConfig, simulate_platform
from botsift.train import TrainingResult, train_models

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ScoredWarehouse:
    """Paths of one test warehouse and what runs dbt and training against it."""

    tmp: Path

    @property
    def wh(self) -> Path:
        return self.tmp / "wh.duckdb"

    @property
    def artifacts(self) -> Path:
        return self.tmp / "artifacts"

    @property
    def target(self) -> Path:
        return self.tmp / "target"

    def env(self) -> dict[str, str]:
        env = dbt_env(ROOT)
        env.update(BOTSIFT_WAREHOUSE=str(self.wh), BOTSIFT_ARTIFACTS=str(self.artifacts),
                   BOTSIFT_EXPECTATIONS_DIR=str(self.tmp / "expectations"),
                   BOTSIFT_BUILD_DATA_DOCS="false")
        return env

    def dbt(self, *args: str, check: bool = True) -> str:
        """Run dbt on this warehouse; return its output (assert success when ``check``)."""
        out = subprocess.run([sys.executable, "-c", "from dbt.cli.main import cli; cli()", *args,
                              "--project-dir", str(ROOT), "--target-path", str(self.target)],
                             cwd=ROOT, env=self.env(), capture_output=True, text=True, check=False)
        text = out.stdout + out.stderr
        if check:
            assert out.returncode == 0, text[-4000:]
        return text

    def manifest(self) -> dict:
        return json.loads((self.target / "manifest.json").read_text())

    def train(self, **kwargs: Any) -> TrainingResult:
        return train_models(self.wh, self.manifest(), self.artifacts,
                            expectations_dir=self.tmp / "expectations", **kwargs)


def build_scored(tmp: Path, config: SimulationConfig, train_kwargs: dict[str, Any], *,
                 command: str = "build") -> tuple[ScoredWarehouse, TrainingResult]:
    """Simulate, build the training marts, train, promote and build everything.

    ``command="run"`` skips the data tests (other test modules run them) to save time.
    """
    sw = ScoredWarehouse(tmp)
    simulate_platform(config, sw.wh)
    if command == "run":
        sw.dbt("seed")
    sw.dbt(command, "--selector", "training")
    result = sw.train(**train_kwargs)
    # a tiny simulation: the action threshold misses the precision target (scoring mechanics
    # are what these tests check, not the model)
    promote(sw.wh, result.model_version, to="active", accept_unmet_target=True)
    sw.dbt(command)
    return sw, result


def query_rows(wh: Path, sql: str) -> list[tuple]:
    """All rows of ``sql`` on the warehouse, through a read-only connection closed after."""
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
