"""The signal kind's readers and preprocessing: beats cut where they are, bad recordings
refused with a message that says what and where, and the rhythm summary counting right."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from tests.signal_builders import synthetic_ecg, write_record

from medmaas.exceptions import InvalidInputError, PayloadTooLargeError
from medmaas.kinds.signal.processing import BEFORE, MODEL_RATE, WINDOW, beats_of, rr_features
from medmaas.kinds.signal.reading import read_beat_dataset
from medmaas.kinds.signal.rhythm import bigeminy_beats, runs, summarise
from medmaas.kinds.signal.waveform import read_upload

SHARED = Path(os.environ.get("MEDMAAS_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
RECORD_100 = SHARED / "signals" / "wfdb" / "100"


def _record_files(tmp_path: Path, seconds: float = 30.0) -> dict[str, bytes]:
    write_record(tmp_path, "rec", seconds=seconds)
    return {n: (tmp_path / n).read_bytes() for n in ("rec.hea", "rec.dat")}


def test_detected_beats_sit_on_the_true_r_peaks() -> None:
    signal, peaks, symbols = synthetic_ecg(seconds=30, fs=500, seed=1)
    beats, notes = beats_of(signal, 500, where="test")
    assert notes == []
    inside = peaks[(peaks >= BEFORE * 500 / MODEL_RATE) & (peaks < len(signal) - WINDOW * 500 / MODEL_RATE)]
    found = beats.peaks
    assert len(found) == len(inside)
    assert np.abs(found - inside).max() <= 0.02 * 500  # within 20 ms
    assert beats.windows.shape == (len(found), WINDOW) and beats.windows.dtype == np.float32
    # the R peak is the window's largest value, at BEFORE, for the normal beats
    normal = np.array([symbols[list(peaks).index(p)] == "N" for p in inside])
    assert np.median(beats.windows[normal].argmax(axis=1)) == pytest.approx(BEFORE, abs=2)


def test_rr_features_mark_a_premature_beat() -> None:
    peaks = np.array([0, 180, 360, 468, 720, 900])  # beat 3 comes 0.4 s early, then a pause
    features = rr_features(peaks)
    pre, post, local, pre_to_local, post_to_pre = features[3]
    assert pre == pytest.approx(0.6) and post == pytest.approx(1.4)
    assert local == pytest.approx(1.0)
    assert pre_to_local < 0.7 and post_to_pre > 2


def test_short_gaps_are_bridged_and_long_ones_refused() -> None:
    signal, _, _ = synthetic_ecg(seconds=20, fs=360)
    short = signal.copy()
    short[1000:1020] = np.nan  # 56 ms
    beats, notes = beats_of(short, 360, where="row 0")
    assert len(beats.peaks) > 10 and "interpolated" in notes[0]
    long = signal.copy()
    long[3600:4000] = np.nan  # 1.1 s
    with pytest.raises(InvalidInputError, match=r"row 0: 400 missing samples \(NaN\) in a row from 10.00 s"):
        beats_of(long, 360, where="row 0")


def test_too_short_and_bad_rates_are_refused() -> None:
    signal, _, _ = synthetic_ecg(seconds=5, fs=360)
    with pytest.raises(InvalidInputError, match="lasts 1.00 s; at least 2 s"):
        beats_of(signal[:360], 360, where="upload")
    with pytest.raises(InvalidInputError, match="not an ECG rate"):
        beats_of(signal, 0.5, where="upload")


def test_reader_labels_beats_with_aami_classes(tmp_path: Path) -> None:
    for i in range(3):
        write_record(tmp_path, f"r{i}", seconds=30, seed=i)
    ds = read_beat_dataset(tmp_path, name="synthetic")
    assert ds.classes == ("N", "V") and ds.summary()["records"] == 3
    assert set(np.unique(ds.records)) == {"r0", "r1", "r2"}
    assert ds.summary()["class_counts"]["V"] >= 20
    assert any("S, F, Q" in w for w in ds.warnings)


def test_mit_bih_record_100_is_read_with_its_annotations() -> None:
    if not RECORD_100.with_suffix(".hea").exists():
        pytest.skip(f"shared signal data not found at {RECORD_100.parent}")
    ds = read_beat_dataset(RECORD_100, name="100")
    counts = ds.summary()["class_counts"]
    # 2,239 N, 33 A (-> S) and 1 V annotated; a few beats at the edges or missed by the detector
    assert counts["S"] == 33 and 2230 <= counts["N"] <= 2239 and "V" not in counts
    assert any("V" in w and "can't answer" in w for w in ds.warnings)


def test_wfdb_upload_reads_header_and_data(tmp_path: Path) -> None:
    recording = read_upload(_record_files(tmp_path))
    assert recording.fs == 360 and recording.leads == ["MLII"] and recording.signals.shape == (10800, 1)


def test_header_without_its_data_file_is_refused(tmp_path: Path) -> None:
    files = _record_files(tmp_path)
    with pytest.raises(InvalidInputError, match=r"rec.hea names the data file 'rec.dat', which was not uploaded"):
        read_upload({"rec.hea": files["rec.hea"]})


def test_data_file_shorter_or_longer_than_its_header_is_refused(tmp_path: Path) -> None:
    files = _record_files(tmp_path)
    with pytest.raises(InvalidInputError, match="fewer samples than its header says"):
        read_upload({**files, "rec.dat": files["rec.dat"][:-100]})
    with pytest.raises(InvalidInputError, match="more samples than its header says"):
        read_upload({**files, "rec.dat": files["rec.dat"] + b"\0" * 100})


def test_ten_hour_recording_is_refused_by_its_header(tmp_path: Path) -> None:
    files = _record_files(tmp_path)
    header = files["rec.hea"].decode().replace(" 10800", f" {360 * 3600 * 10}", 1)
    with pytest.raises(PayloadTooLargeError, match=r"lasts 10.0 h; one request takes at most 2 h"):
        read_upload({"rec.hea": header.encode(), "rec.dat": b""})


def test_csv_needs_a_rate_and_takes_it_from_a_time_column() -> None:
    signal, _, _ = synthetic_ecg(seconds=10, fs=250)
    plain = "II\n" + "\n".join(f"{v:.4f}" for v in signal)
    with pytest.raises(InvalidInputError, match="unknown sampling rate"):
        read_upload({"ecg.csv": plain.encode()})
    assert read_upload({"ecg.csv": plain.encode()}, sampling_rate=250).fs == 250
    timed = "time,II\n" + "\n".join(f"{i / 250:.4f},{v:.4f}" for i, v in enumerate(signal))
    assert read_upload({"ecg.csv": timed.encode()}).fs == pytest.approx(250)
    bad = plain.replace("\n", "\nabc\n", 1)
    with pytest.raises(InvalidInputError, match=r"row 2, column 'II' is not a number"):
        read_upload({"ecg.csv": bad.encode()}, sampling_rate=250)


def test_zip_of_a_record_is_read(tmp_path: Path) -> None:
    files = _record_files(tmp_path)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"folder/{name}", data)
    assert read_upload({"record.zip": out.getvalue()}).signals.shape == (10800, 1)


def test_rhythm_summary_counts_runs_and_bigeminy() -> None:
    assert runs(list("NVVNVVVN"), "V") == [2, 3]
    assert bigeminy_beats(list("NVNVNVNN"), "V") == 6
    labels = list("NNNNNNVNNNNNNSSSNNNN")
    peaks = np.arange(len(labels)) * 360
    summary = summarise(labels, peaks, 360.0, ["N", "S", "V"])
    assert summary["counts"] == {"N": 16, "S": 3, "V": 1}
    assert summary["heart_rate_bpm"]["mean"] == 60.0 and summary["regular"] is True
    assert summary["S_runs"]["runs_of_3_or_more"] == 1
    assert any("longest run 3" in f for f in summary["findings"])


def test_edf_upload_is_read_through_wfdb(tmp_path: Path) -> None:
    from wfdb.io.convert.edf import wfdb_to_edf

    write_record(tmp_path, "rec", seconds=30)
    wfdb_to_edf(str(tmp_path / "rec"), output_filename=str(tmp_path / "rec.edf"))
    recording = read_upload({"rec.edf": (tmp_path / "rec.edf").read_bytes()})
    # EDF stores whole data records: the 30 s come back padded to the next record's end
    assert recording.source == "edf" and recording.fs == 360 and recording.signals.shape[0] >= 10800
    beats, _ = beats_of(recording.signals[:, 0], recording.fs, where="rec.edf")
    assert 30 <= len(beats.peaks) <= 40
    with pytest.raises(InvalidInputError, match="not a readable EDF file"):
        read_upload({"broken.edf": b"0       " + b"\0" * 100})
