from __future__ import annotations

import duckdb
import numpy as np
import pytest

from botsift.errors import BotsiftError
from botsift.examples import load_training_examples


def test_loads_features_in_manifest_order(project):
    _, wh, manifest = project
    ex = load_training_examples(wh, manifest)
    cols = manifest["nodes"]["model.botsift.ml_training_examples"]["columns"]
    assert ex.features == [c for c, v in cols.items() if v["meta"]["role"] == "feature"]
    assert ex.X.dtype == np.float32 and ex.X.shape == (6000, len(ex.features))
    assert np.isnan(ex.X).any()  # NULLs arrive as NaN
    assert set(ex.split) == {"train", "validation", "test"}
    assert set(ex.segments) == {"region", "account_age_band", "signup_client"}
    assert ex.snapshot is not None


def test_label_source_filter(project):
    _, wh, manifest = project
    ex = load_training_examples(wh, manifest, label_sources=["ops_review"])
    assert 0 < len(ex.y) < 6000 and set(ex.label_source) == {"ops_review"}
    with pytest.raises(BotsiftError, match="no rows with label_source"):
        load_training_examples(wh, manifest, label_sources=["nope"])


def _sql(wh, sql):
    con = duckdb.connect(str(wh))
    con.execute(sql)
    con.close()


def test_missing_warehouse_and_table(project, tmp_path):
    _, wh, manifest = project
    with pytest.raises(BotsiftError, match="warehouse .* not found"):
        load_training_examples(tmp_path / "nope.duckdb", manifest)
    _sql(wh, "drop table marts.ml_training_examples")
    with pytest.raises(BotsiftError, match="not found .*dbt build"):
        load_training_examples(wh, manifest)


def test_empty_and_one_class(project):
    _, wh, manifest = project
    _sql(wh, "update marts.ml_training_examples set label = 0 where split = 'validation'")
    with pytest.raises(BotsiftError, match="'validation' holds one class only"):
        load_training_examples(wh, manifest)
    _sql(wh, "delete from marts.ml_training_examples")
    with pytest.raises(BotsiftError, match="has no rows"):
        load_training_examples(wh, manifest)


def test_infinite_feature_and_missing_column(project):
    _, wh, manifest = project
    _sql(wh, "update marts.ml_training_examples set feature_10_ratio = 'inf'::double "
             "where account_id = 5")
    with pytest.raises(BotsiftError, match="feature_10_ratio holds infinite"):
        load_training_examples(wh, manifest)
    _sql(wh, "alter table marts.ml_training_examples drop column feature_10_ratio")
    with pytest.raises(BotsiftError, match="lacks columns"):
        load_training_examples(wh, manifest)
