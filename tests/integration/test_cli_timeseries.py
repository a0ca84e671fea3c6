"""``medmaas train --kind timeseries`` on a long table of measurements with an outcomes file,
then ``medmaas predict`` on one stay in the PhysioNet ``Time,Parameter,Value`` format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.integration.test_cli import run
from tests.timeseries_builders import stay_rows

pytestmark = pytest.mark.integration


def test_train_on_a_long_table_and_predict_a_stay_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    died = rng.random(120) < 0.3
    table = ["stay_id,time,parameter,value"]
    for stay, outcome in enumerate(died):
        table += [f"s{stay},{t:.2f},{p},{v:.2f}" for t, p, v in stay_rows(rng, bool(outcome))]
    (tmp_path / "measurements.csv").write_text("\n".join(table))
    (tmp_path / "outcomes.csv").write_text("stay_id,In-hospital_death\n" +
                                           "\n".join(f"s{i},{int(d)}" for i, d in enumerate(died)))
    home = tmp_path / "home"
    code, out, err = run(capsys, home, "train", str(tmp_path / "measurements.csv"), "--kind", "timeseries",
                         "--name", "icu", "--outcomes", str(tmp_path / "outcomes.csv"),
                         "--candidates", "gradient-boosting", "--bootstrap", "100", "--json")
    assert code == 0, err
    assert json.loads(out)["parity_max_diff"] <= 1e-5

    rows = stay_rows(np.random.default_rng(5), died=True)
    lines = ["Time,Parameter,Value"] + [f"{int(t):02d}:{int(t % 1 * 60):02d},{p},{v:.2f}" for t, p, v in rows]
    (tmp_path / "stay.txt").write_text("\n".join(lines))
    code, out, err = run(capsys, home, "predict", "icu", "--input", str(tmp_path / "stay.txt"), "--explain",
                         "--json")
    assert code == 0, err
    (answer,) = json.loads(out)["predictions"]
    assert 0.0 <= answer["probability"] <= 1.0 and "explanation" in answer
