"""Shared fixtures: the offline bundle beside the checkout, and an isolated cache per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def bundle() -> Path:
    """The offline bundle: $SNN_ROBUST_BUNDLE, else ../shared/bundle beside the checkout."""
    path = Path(os.environ.get("SNN_ROBUST_BUNDLE") or REPO.parent / "shared" / "bundle")
    if not (path / "SHA256SUMS").exists():
        pytest.fail(f"offline bundle not found at {path}; set SNN_ROBUST_BUNDLE")
    return path


@pytest.fixture(scope="session", autouse=True)
def isolated_env(bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    """Every test sees the bundle, a private cache shared by the session, and no network downloads."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNN_ROBUST_BUNDLE", str(bundle))
        patch.setenv("SNN_ROBUST_HOME", str(tmp_path_factory.getbasetemp() / "snn-robust-home"))
        patch.setenv("SNN_ROBUST_OFFLINE", "1")
        yield
