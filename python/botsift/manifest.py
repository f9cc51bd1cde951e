"""Column roles (key, feature, label, segment, ...) read from the dbt manifest.

Roles are declared once, as ``meta: {role: ...}`` on a model's columns in its YAML; this
module is the only place Python learns the feature list, so there is no second list by hand.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from botsift.errors import BotsiftError

__all__ = ["FEATURE_MODEL", "ROLES", "TRAINING_MODEL", "column_roles", "load_manifest", "target_dir",
           "training_roles"]

ROLES = ("key", "feature", "label", "segment", "split", "weight", "group", "info")
FEATURE_MODEL = "fct_account_features"
"""The model whose column metas declare the features (the one feature list)."""
TRAINING_MODEL = "ml_training_examples"


def target_dir(root: Path) -> Path:
    """The dbt project's target folder, where dbt writes ``manifest.json``.

    ``DBT_TARGET_PATH`` when set (dbt's own variable; a relative path is relative to the
    project, as dbt reads it), else ``root / "target"``: botsift reads the manifest of the
    dbt run the user just made, wherever that run wrote it.
    """
    env = os.environ.get("DBT_TARGET_PATH")
    if not env:
        return root / "target"
    path = Path(env).expanduser()
    return path if path.is_absolute() else root / path


def load_manifest(root: Path, *, target: Path | None = None) -> dict:
    """Load ``manifest.json`` from the target folder (:func:`target_dir`) of the project at ``root``.

    ``target`` names the folder instead (a dbt run made with ``--target-path``).

    Raises
    ------
    BotsiftError
        If the manifest is missing (dbt has not parsed the project yet).
    """
    path = (target if target is not None else target_dir(root)) / "manifest.json"
    if not path.is_file():
        raise BotsiftError(f"{path} not found: run `dbt parse` (or `dbt build`) first")
    try:
        with path.open() as fh:
            manifest = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        # a dbt run killed while writing it, or two writing at once
        raise BotsiftError(f"{path} cannot be read ({type(exc).__name__}: {exc}): run "
                           "`dbt parse` to write it again") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("nodes"), dict):
        raise BotsiftError(f"{path} is not a dbt manifest (no nodes): run `dbt parse` to write "
                           "it again")
    return manifest


def column_roles(manifest: dict, model: str, package: str = "botsift", *,
                 require_features: bool = True) -> dict[str, list[str]]:
    """Return ``{role: [column, ...]}`` for one model, in the YAML's column order.

    Parameters
    ----------
    manifest : dict
        A loaded dbt manifest.
    model : str
        Model name, for example ``"ml_training_examples"``.

    Raises
    ------
    BotsiftError
        If the model is not in the manifest, declares no feature columns, or uses an unknown role.
    """
    node = manifest.get("nodes", {}).get(f"model.{package}.{model}")
    if node is None:
        raise BotsiftError(f"model {model} is not in the dbt manifest: run `dbt parse`")
    roles: dict[str, list[str]] = {r: [] for r in ROLES}
    for name, col in node.get("columns", {}).items():
        meta = col.get("meta") or (col.get("config") or {}).get("meta") or {}
        role = meta.get("role")
        if role is None:
            continue
        if role not in roles:
            raise BotsiftError(f"{model}.{name}: unknown column role {role!r}; use one of {ROLES}")
        roles[role].append(name)
    if require_features and not roles["feature"]:
        raise BotsiftError(f"model {model} declares no columns with meta role 'feature'")
    return roles


def training_roles(manifest: dict, package: str = "botsift") -> dict[str, list[str]]:
    """Return the column roles of the training table.

    Features come from :data:`FEATURE_MODEL` (declared once there); key, label, split,
    group, weight, segment and info columns from :data:`TRAINING_MODEL`.
    """
    roles = column_roles(manifest, TRAINING_MODEL, package, require_features=False)
    if f"model.{package}.{FEATURE_MODEL}" in manifest.get("nodes", {}):
        roles["feature"] = column_roles(manifest, FEATURE_MODEL, package)["feature"]
    elif not roles["feature"]:
        raise BotsiftError(f"neither {FEATURE_MODEL} nor {TRAINING_MODEL} declares feature columns")
    return roles
