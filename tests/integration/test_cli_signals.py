"""``medmaas train --kind signal`` on a folder of annotated WFDB records, then batch prediction
over a folder of recordings (WFDB and CSV), a bad one reported and the others answered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.integration.test_cli import run
from tests.signal_builders import synthetic_ecg, write_record

pytestmark = pytest.mark.integration


def test_train_on_records_and_predict_a_folder_of_recordings(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    for i in range(6):
        write_record(tmp_path / "train", f"p{i}", seconds=60, seed=i, v_every=4 + i % 3)
    code, out, err = run(capsys, home, "train", str(tmp_path / "train"), "--kind", "signal", "--name", "ecg",
                         "--candidates", "gradient-boosting", "--bootstrap", "100", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["version"] == 1 and result["parity_max_diff"] <= 1e-5

    incoming = tmp_path / "incoming"
    write_record(incoming, "monday", seconds=40, seed=11, v_every=3)
    signal, _, _ = synthetic_ecg(seconds=30, fs=250, seed=12, v_every=0)
    (incoming / "tuesday.csv").write_text("II\n" + "\n".join(f"{v:.4f}" for v in signal))
    (incoming / "broken.hea").write_text("broken 1 360 1000\nbroken.dat 16 200 16 0 0 0 0 MLII\n")
    code, out, err = run(capsys, home, "predict", "ecg", "--input", str(incoming), "--option", "sampling_rate=250",
                         "--json")
    assert code == 0, err
    answer = json.loads(out)
    by_file = {p["recording"]["file"]: p for p in answer["predictions"]}
    assert set(by_file) == {"monday.hea", "tuesday.csv"}
    assert by_file["monday.hea"]["summary"]["counts"]["V"] >= 10  # one beat in three is ventricular
    assert by_file["tuesday.csv"]["summary"]["counts"]["V"] <= 1
    assert answer["failed"] == [{"file": "broken.hea", "error": "broken.hea names the data file 'broken.dat', "
                                 "which was not uploaded; send the header together with its data files"}]

    code, out, err = run(capsys, home, "predict", "ecg", "--input", str(incoming / "monday.hea"),
                         "--output", str(tmp_path / "beats.csv"))
    assert code == 0, err
    lines = (tmp_path / "beats.csv").read_text().splitlines()
    assert lines[0] == "file,sample,time_s,label,probability,uncertain" and len(lines) > 40
