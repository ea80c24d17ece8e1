"""The frontend's own checks, run from pytest so CI runs them: tsc type-check and node unit tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"


@pytest.fixture(scope="module")
def npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI") == "true":
            pytest.fail("npm is not installed: the frontend cannot be checked", pytrace=False)
        pytest.skip("npm is not installed (Node.js 20+ with npm builds and checks the frontend)")
    if not (FRONTEND / "node_modules").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=FRONTEND, check=True)
    return npm


@pytest.mark.parametrize("script", ["typecheck", "test"])
def test_frontend_script_passes(npm, script):
    out = subprocess.run([npm, "run", script], cwd=FRONTEND, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    if script == "test":
        assert "# fail 0" in out.stdout and "# pass 0" not in out.stdout
