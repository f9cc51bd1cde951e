"""botsift: find bot accounts with dbt, scikit-learn and ONNX, inside the warehouse."""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["SEED_MAX", "__version__"]

SEED_MAX = 2**32 - 1
"""Largest seed: numpy and scikit-learn take seeds in [0, 2**32 - 1]."""
