"""``plot`` draws a real PNG of a meter from any meter.db."""
from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_plot_writes_a_png(seeded, tmp_path):
    path = seeded(meters=2, days=10)
    out = tmp_path / "m.png"
    result = subprocess.run([sys.executable, "-m", "GenerateMeterData", "plot", "--db", path, "--meter", "1002",
                             "--out", str(out)], env=dict(os.environ, PYTHONPATH=REPO),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "meter 1002: 480 profile slots, 11 day registers, 10 days of consumption" in result.stdout
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_plot_of_a_missing_meter_is_one_line(seeded, tmp_path):
    path = seeded(meters=1, days=1)
    result = subprocess.run([sys.executable, "-m", "GenerateMeterData", "plot", "--db", path, "--meter", "77",
                             "--out", str(tmp_path / "x.png")], env=dict(os.environ, PYTHONPATH=REPO),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip() == f"error: no meter 77 with data in {path}"
