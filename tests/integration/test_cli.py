"""The CLI as a user types it: train, list, show, promote, predict, keys, audit; and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import mixed_frame

from medmaas.cli.main import main

pytestmark = pytest.mark.integration


def run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    try:
        main(["--home", str(home), *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_train_promote_predict_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    data = tmp_path / "patients.csv"
    frame = mixed_frame()
    frame.to_csv(data, index=False, sep=";")
    code, out, _ = run(capsys, home, "train", str(data), "--target", "outcome", "--name", "sepsis-risk",
                       "--candidates", "logistic-regression", "--bootstrap", "200", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["version"] == 1 and result["parity_max_diff"] <= 1e-5

    code, out, _ = run(capsys, home, "models", "promote", "sepsis-risk", "1", "--stage", "production")
    assert code == 0 and "production" in out
    code, out, _ = run(capsys, home, "models", "list", "--json")
    assert json.loads(out)["models"][0]["production_version"] == 1

    new = tmp_path / "new.csv"
    frame.drop(columns=["outcome"]).head(4).to_csv(new, index=False)
    code, out, _ = run(capsys, home, "predict", "sepsis-risk", "--input", str(new), "--json")
    assert code == 0
    assert len(json.loads(out)["predictions"]) == 4

    labelled = tmp_path / "labelled.csv"
    frame.tail(80).to_csv(labelled, index=False)
    code, out, _ = run(capsys, home, "evaluate", "sepsis-risk", "--input", str(labelled), "--json",
                       "--bootstrap", "200")
    assert code == 0 and json.loads(out)["metrics"]["auroc"]["value"] > 0.5

    code, out, _ = run(capsys, home, "keys", "create", "--name", "ward-7", "--role", "clinician", "--json")
    assert code == 0 and json.loads(out)["api_key"].startswith("mm_")
    code, out, _ = run(capsys, home, "audit", "verify")
    assert code == 0 and "intact" in out
    code, out, _ = run(capsys, home, "audit", "tail", "--json")
    actions = [e["action"] for e in json.loads(out)]
    assert {"model.register", "model.promote", "model.predict", "key.create"} <= set(actions)


@pytest.mark.parametrize(("content", "args", "fragment"), [
    ("a,b\n1,2\n3,4\n", ["--target", "outcome"], "outcome"),
    ("a,b\n1,x\n2,x\n3,x\n4,x\n5,x\n", ["--target", "b"], "one class"),
    ("a,b,c\n1,2\n", ["--target", "c"], "row"),
])
def test_user_mistakes_print_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 content: str, args: list[str], fragment: str) -> None:
    data = tmp_path / "bad.csv"
    data.write_text(content)
    code, out, err = run(capsys, tmp_path / "home", "train", str(data), "--name", "x", *args)
    assert code == 1
    assert err.startswith("Error:") and fragment in err
    assert "Traceback" not in out + err


def test_missing_file_and_unknown_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, tmp_path / "home", "train", str(tmp_path / "nope.csv"), "--target", "y",
                       "--name", "x")
    assert code == 1 and "Error:" in err
    code, _, err = run(capsys, tmp_path / "home", "models", "show", "ghost")
    assert code == 1 and "ghost" in err
