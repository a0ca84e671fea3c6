"""read_table: delimiters, encodings, formats, missing values, and errors that say where."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pandas as pd
import pytest

from medmaas.data.readers import read_table
from medmaas.exceptions import DataError, PayloadTooLargeError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "tabular"


def _write(tmp_path: Path, filename: str, content: str | bytes) -> Path:
    path = tmp_path / filename
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def _missing(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


# --- delimiters, encodings, formats ---------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    rows = [
        ["age", "sex", "glucose level"],
        ["61", "F", "5.4"],
        ["47", "M", "7.9"],
        ["55", "F", ""],
    ]
    text = "\n".join(delimiter.join(r) for r in rows) + "\n"
    frame = read_table(_write(tmp_path, "t.csv", text))
    assert list(frame.columns) == ["age", "sex", "glucose level"]
    assert frame["sex"].tolist() == ["F", "M", "F"]
    assert _missing(frame["glucose level"].iloc[2])


def test_semicolon_file_with_decimal_commas_in_quotes_is_sniffed() -> None:
    frame = read_table(b'id;note;dose\n1;"a, b";"2,5"\n2;c;"3,0"\n3;d;1\n')
    assert frame.shape == (3, 3)
    assert frame["note"].tolist() == ["a, b", "c", "d"]


def test_explicit_delimiter_wins_over_sniffing() -> None:
    frame = read_table(b"a,b|c\n1,2|3\n", delimiter="|")
    assert list(frame.columns) == ["a,b", "c"]


def test_tsv_extension_means_tab_even_with_commas_in_values(tmp_path: Path) -> None:
    path = _write(tmp_path, "notes.tsv", "id\tnote\n1\tfever, cough\n2\tnone, really\n")
    frame = read_table(path)
    assert frame["note"].tolist() == ["fever, cough", "none, really"]


def test_utf8_bom_is_not_part_of_the_first_column_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "bom.csv", "âge;poids\n61;70\n".encode("utf-8-sig"))
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    frame = read_table(path)
    assert list(frame.columns) == ["âge", "poids"]
    assert frame["âge"].tolist() == ["61"]


def test_latin1_and_windows_1252_files_are_decoded() -> None:
    frame = read_table("name,city\nJosé,Málaga\n“x”,Köln\n".encode("cp1252"))
    assert frame["name"].tolist() == ["José", "“x”"]
    assert read_table("a\nç\n".encode("latin-1"))["a"].tolist() == ["ç"]


def test_utf16_with_bom_is_decoded() -> None:
    assert read_table("a,b\n1,2\n".encode("utf-16")).to_dict("list") == {"a": ["1"], "b": ["2"]}


def test_parquet_round_trip_by_extension_and_by_magic_bytes(tmp_path: Path) -> None:
    frame = pd.DataFrame({"age": [61, 47, 55], "sex": [" F", "M", "NA"], "score": [1.5, None, 2.0]})
    path = tmp_path / "cohort.parquet"
    frame.to_parquet(path)
    read = read_table(path)
    assert read["age"].tolist() == [61, 47, 55]
    assert read["sex"].tolist()[:2] == ["F", "M"] and _missing(read["sex"].iloc[2])
    assert _missing(read["score"].iloc[1])
    # An upload without a name, or misnamed .csv, is still recognised by its magic bytes.
    assert read_table(path.read_bytes()).shape == (3, 3)
    assert read_table(path.read_bytes(), name="cohort.csv").shape == (3, 3)


def test_parquet_named_index_becomes_a_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"age": [61, 47]}, index=pd.Index(["p1", "p2"], name="patient"))
    frame.to_parquet(tmp_path / "t.parquet")
    assert list(read_table(tmp_path / "t.parquet").columns) == ["patient", "age"]


def test_upload_bytes_with_a_name(tmp_path: Path) -> None:
    frame = read_table(bytearray(b"x\ty\n1\t2\n"), name="upload.tsv")
    assert frame.to_dict("list") == {"x": ["1"], "y": ["2"]}


# --- cleaning -------------------------------------------------------------------------------


def test_missing_tokens_become_missing_and_whitespace_is_stripped() -> None:
    tokens = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "?", "-", "  NA  "]
    body = "\n".join(f"{i}, {t} ,-5" for i, t in enumerate(tokens))
    frame = read_table(f"  id , value ,delta\n{body}\n".encode())
    assert list(frame.columns) == ["id", "value", "delta"]
    assert all(_missing(v) for v in frame["value"])
    # "-" is missing only as a whole cell: "-5" is a number.
    assert frame["delta"].tolist() == ["-5"] * len(tokens)


def test_values_stay_text_with_internal_whitespace_kept() -> None:
    frame = read_table(b"drug,dose\n  beta blocker , 7.2 \n")
    assert frame.to_dict("list") == {"drug": ["beta blocker"], "dose": ["7.2"]}


def test_blank_lines_are_skipped_and_crlf_is_read() -> None:
    frame = read_table(b"a,b\r\n1,2\r\n\r\n3,4\r\n")
    assert frame["a"].tolist() == ["1", "3"]


def test_trailing_delimiter_on_every_line_is_tolerated() -> None:
    frame = read_table(b"a,b,c,\n1,2,3,\n4,5,6,\n")
    assert list(frame.columns) == ["a", "b", "c"] and frame.shape == (2, 3)


def test_a_quoted_field_may_span_lines() -> None:
    frame = read_table(b'id,note\n1,"line one\nline two"\n2,short\n')
    assert frame["note"].tolist() == ["line one\nline two", "short"]


def test_headerless_file_reads_with_explicit_names() -> None:
    frame = read_table(b"6,148,1\n1,85,0\n", names=["pregnancies", "glucose", "class"])
    assert frame["glucose"].tolist() == ["148", "85"]


# --- errors that say what and where ----------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"  \n\n \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(DataError, match=r"'empty\.csv' is empty"):
        read_table(_write(tmp_path, "empty.csv", content))


def test_no_header_row_is_detected() -> None:
    with pytest.raises(DataError, match=r"no header row: its first row \(6, 148, 72"):
        read_table(b"6,148,72\n1,85,66\n", name="pima.csv")


def test_header_without_data_rows() -> None:
    with pytest.raises(DataError, match="header row but no data rows"):
        read_table(b"a,b,c\n", name="t.csv")


def test_blank_column_name_names_its_position() -> None:
    with pytest.raises(DataError, match="column 3 has no name"):
        read_table(b"age,sex,,bmi\n1,2,3,4\n")


def test_blank_first_column_hints_at_a_saved_index() -> None:
    with pytest.raises(DataError, match="column 1 has no name.*index=False"):
        read_table(b",age\n0,61\n1,47\n")


def test_duplicate_column_names_name_both_positions() -> None:
    with pytest.raises(DataError, match=r"'age' appears more than once \(columns 1 and 3\)"):
        read_table(b"age,sex,age\n1,2,3\n")


def test_ragged_row_names_the_row_and_the_line(tmp_path: Path) -> None:
    lines = ["a,b,c,d"] + [f"{i},{i},{i},{i}" for i in range(1, 17)] + ["17,1,2,3,4"]
    path = _write(tmp_path, "ragged.csv", "\n".join(lines) + "\n")
    with pytest.raises(DataError) as caught:
        read_table(path)
    assert "row 17 has 5 fields; the header has 4" in str(caught.value)
    assert "line 18 of 'ragged.csv'" in str(caught.value)


def test_short_row_is_an_error_too() -> None:
    with pytest.raises(DataError, match="row 2 has 2 fields; the header has 3"):
        read_table(b"a,b,c\n1,2,3\n4,5\n6,7,8\n")


def test_value_under_a_nameless_trailing_column() -> None:
    with pytest.raises(DataError, match="column 3 has no name but row 2 has a value there"):
        read_table(b"a,b,\n1,2,\n3,4,5\n")


def test_binary_garbage_is_not_a_csv() -> None:
    rng = random.Random(0)
    garbage = bytes(rng.randrange(256) for _ in range(4096))
    with pytest.raises(DataError, match="binary|control characters"):
        read_table(garbage, name="scan.csv")
    with pytest.raises(DataError, match="control characters"):
        read_table(bytes(rng.randrange(1, 32) for _ in range(2000)) + b"a,b\n", name="x.csv")


def test_known_binary_formats_say_what_they_are() -> None:
    with pytest.raises(DataError, match="Excel workbook or zip archive"):
        read_table(b"PK\x03\x04rest-of-zip", name="data.csv")
    with pytest.raises(DataError, match="looks like JSON"):
        read_table(b'{"rows": []}', name="data.csv")


def test_unsupported_extension() -> None:
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'.*export the sheet as CSV"):
        read_table(b"anything", name="cohort.xlsx")


def test_parquet_extension_without_parquet_content(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a Parquet file"):
        read_table(_write(tmp_path, "t.parquet", b"a,b\n1,2\n"))
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_table(b"PAR1 but broken", name="t.parquet")


def test_file_over_max_bytes_is_refused_before_reading(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.csv", "a,b\n" + "1,2\n" * 1000)
    with pytest.raises(
        PayloadTooLargeError, match=r"'big\.csv' is 3\.9 KiB .* the limit is 1\.0 KiB"
    ):
        read_table(path, max_bytes=1024)
    with pytest.raises(PayloadTooLargeError, match="upload"):
        read_table(path.read_bytes(), max_bytes=100)
    assert read_table(path, max_bytes=10_000).shape == (1000, 2)


def test_missing_file() -> None:
    with pytest.raises(DataError, match="no such file"):
        read_table(Path("/nonexistent/cohort.csv"))


# --- ARFF -------------------------------------------------------------------------------------

ARFF = """% comment\r
@relation ckd\r
@attribute 'age' numeric\r
@attribute 'blood pressure' numeric\r
@attribute 'htn' {yes,no}\r
@attribute 'class' {ckd,notckd}\r
@data\r
48,80,\tyes,ckd\r
?,70, no,notckd\t\r
60,?,yes,ckd,\r
"""


def test_arff_quirks_are_read(tmp_path: Path) -> None:
    frame = read_table(_write(tmp_path, "ckd.arff", ARFF))
    assert list(frame.columns) == ["age", "blood pressure", "htn", "class"]
    assert frame["htn"].tolist() == ["yes", "no", "yes"]
    assert frame["class"].tolist() == ["ckd", "notckd", "ckd"]
    assert _missing(frame["age"].iloc[1]) and _missing(frame["blood pressure"].iloc[2])


def test_arff_row_with_wrong_value_count() -> None:
    bad = ARFF + "1,2,3\r\n"
    with pytest.raises(
        DataError, match=r"row 4 has 3 values; the header declares 4 attributes \(line 11"
    ):
        read_table(bad.encode(), name="ckd.arff")


def test_arff_numeric_attribute_with_text() -> None:
    bad = ARFF + "old,80,yes,ckd\r\n"
    with pytest.raises(DataError, match="attribute 'age' is numeric but row 4 has 'old'"):
        read_table(bad.encode(), name="ckd.arff")


def test_arff_sparse_rows_are_refused() -> None:
    with pytest.raises(DataError, match="sparse"):
        read_table(b"@relation r\n@attribute a numeric\n@data\n{0 1}\n", name="s.arff")


def test_the_uci_ckd_arff_reads_400_rows() -> None:
    source = SHARED / "uci_chronic_kidney_disease_full.arff"
    if not source.exists():
        pytest.skip("the shared CKD source is not on this machine")
    frame = read_table(source)
    assert frame.shape == (400, 25)
    assert frame["class"].value_counts().to_dict() == {"ckd": 250, "notckd": 150}
    assert set(frame["dm"].dropna()) == {"yes", "no"}  # "\tno" and " yes" in the source


# --- a real headerless file -----------------------------------------------------------------

# The attribute list of pima-indians-diabetes.names, section 7, in order.
PIMA_NAMES = [
    "pregnancies",
    "plasma_glucose_2h",
    "diastolic_bp_mmHg",
    "triceps_skinfold_mm",
    "serum_insulin_2h",
    "bmi",
    "diabetes_pedigree",
    "age_years",
    "class",
]


def test_pima_reads_with_names_from_its_names_file() -> None:
    data = SHARED / "pima-indians-diabetes.data"
    if not data.exists():
        pytest.skip("the Pima file is test-only data and is not on this machine")
    names_text = (SHARED / "pima-indians-diabetes.names").read_text()
    assert "Diastolic blood pressure (mm Hg)" in names_text  # the names below follow its list
    with pytest.raises(DataError, match="no header row"):
        read_table(data)
    frame = read_table(data, names=PIMA_NAMES)
    assert frame.shape == (768, 9)
    assert frame["class"].value_counts().to_dict() == {"0": 500, "1": 268}
