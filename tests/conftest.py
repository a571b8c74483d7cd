import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
# CI and developers keep the data beside the checkout (../shared/data); users may point elsewhere.
DATA_DIR = Path(os.environ.get("MLPSTUDY_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    path = DATA_DIR / "mnist.npz"
    if not path.is_file():
        pytest.fail(f"{path} not found: set MLPSTUDY_DATA_DIR to the folder holding mnist.npz")
    return path


@pytest.fixture(scope="session")
def schema() -> dict:
    from mlpstudy.config import load_schema

    return load_schema(SCHEMA)
