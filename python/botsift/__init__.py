"""botsift: find bot accounts with dbt, scikit-learn and ONNX, inside the warehouse."""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
