"""Canaries for the PHI-leakage test: identifiers drawn fresh for each run, the ways a system
could spell them, a byte-level search for them, and files that carry them the way real exports
do (DICOM, PNG, WFDB, EDF, FHIR)."""

from __future__ import annotations

import base64
import io
import json
import secrets
import string
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import numpy as np
from tests import fhir_builders as fb
from tests.image_builders import blob_images
from tests.signal_builders import synthetic_ecg, write_record


@dataclass(frozen=True)
class Canaries:
    """One draw of identifiers that appear nowhere else: random letters and digits in the
    shapes of patient data, so that any copy of them, anywhere, is unmistakable."""

    first: str
    last: str
    mrn: str
    ssn: str
    dob: date
    phone: str
    email: str
    street: str
    key_id: str  # shaped like an API key's id, to reach the key lookup in the database

    @classmethod
    def draw(cls) -> Canaries:
        rng = secrets.SystemRandom()

        def letters(n: int) -> str:
            return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))

        def digits(n: int) -> str:
            return "".join(rng.choice(string.digits) for _ in range(n))

        first, last = "Zqx" + letters(6), "Canary" + letters(6)
        return cls(
            first=first.capitalize(), last=last.capitalize(),
            mrn="MRN-" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(9)),
            ssn=f"9{digits(2)}-{digits(2)}-{digits(4)}",  # 9xx: never issued as an SSN
            dob=date(rng.randint(1911, 1929), rng.randint(1, 12), rng.randint(1, 28)),
            phone=f"(555) 01{digits(1)}-{digits(4)}",
            email=f"{first.lower()}.{last.lower()}@example.org",
            street=f"{rng.randint(100, 9999)} Vexmoor{letters(5)} Lane",
            key_id="zq" + letters(8),
        )

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def note(self) -> str:
        return (f"Patient {self.name} (MRN {self.mrn}, SSN {self.ssn}, DOB {self.dob:%m/%d/%Y}) called from "
                f"{self.phone}, email {self.email}, living at {self.street}: severe vomiting and a rash all "
                "over, went to the emergency room.")

    def values(self) -> dict[str, str]:
        """Label -> every spelling of that identifier a system could plausibly store."""
        dob = self.dob
        return {
            "first name": self.first, "last name": self.last, "MRN": self.mrn,
            "MRN (alphanumerics)": self.mrn.replace("-", ""), "SSN": self.ssn,
            "SSN (digits)": self.ssn.replace("-", ""), "birth date": dob.isoformat(),
            "birth date (DICOM)": f"{dob:%Y%m%d}", "birth date (US)": f"{dob:%m/%d/%Y}",
            "birth date (EDF)": f"{dob:%d-%b-%Y}", "phone": self.phone,
            "phone (digits)": "".join(c for c in self.phone if c.isdigit()), "email": self.email,
            "street": self.street, "key id": self.key_id,
        }

    def needles(self) -> dict[str, list[bytes]]:
        """Label -> lowercased byte strings to find in a lowercased haystack (as typed, URL-
        and JSON-escaped), plus ``b64:``-prefixed base64 needles for the raw haystack."""
        out: dict[str, list[bytes]] = {}
        for label, value in self.values().items():
            forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
            found = [f.lower().encode() for f in sorted(forms)]
            raw = value.encode()
            for k in range(3):  # each alignment of the value in a longer base64 stream
                encoded = base64.b64encode(b"\0" * k + raw).rstrip(b"=")
                middle = encoded[4 if k else 0:len(encoded) - 4]
                if len(middle) >= 12:
                    found.append(b"b64:" + middle)
            out[label] = found
        return out


def find_canaries(data: bytes, needles: dict[str, list[bytes]]) -> list[str]:
    """The labels of the canaries ``data`` holds in any of their spellings."""
    lowered = data.lower()
    hits = []
    for label, forms in needles.items():
        for needle in forms:
            raw = needle.startswith(b"b64:")
            if (data if raw else lowered).find(needle[4:] if raw else needle) >= 0:
                hits.append(label + (" (base64)" if raw else ""))
                break
    return hits


def scan_tree(root: Path, needles: dict[str, list[bytes]], exempt: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Relative path -> canaries found, for every file under ``root`` (binary, whole file)."""
    skipped = {p for pattern in exempt for p in root.glob(pattern)}
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p not in skipped):
        try:
            data = path.read_bytes()
        except OSError:  # removed while we looked (a temporary file)
            continue
        hits = find_canaries(data, needles)
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


# ------------------------------------------------------------- files that carry identifiers


def identified_dicom(c: Canaries) -> bytes:
    """A 16×16 grey DICOM whose every identifying attribute holds a canary, one nested in a
    sequence and one in a private tag."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    images, _ = blob_images(2, 16, seed=3)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "OT"
    ds.PatientName = f"{c.last}^{c.first}"
    ds.PatientID = c.mrn
    ds.OtherPatientIDs = c.ssn
    ds.PatientBirthDate = f"{c.dob:%Y%m%d}"
    ds.PatientAddress = c.street
    ds.PatientTelephoneNumbers = c.phone
    ds.InstitutionName = f"{c.last} Memorial"
    ds.InstitutionAddress = c.street
    ds.ReferringPhysicianName = f"{c.first}^{c.last}"
    ds.OperatorsName = c.last
    ds.AccessionNumber = c.mrn[-9:]
    ds.StudyID = c.mrn[-9:]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = f"{c.dob:%Y%m%d}"
    ds.StudyDescription = f"CT for {c.name}"
    ds.ImageComments = c.note[:1000]
    ds.PatientComments = c.email
    item = Dataset()
    item.PatientName = f"{c.last}^{c.first}"
    item.PatientID = c.mrn
    ds.OtherPatientIDsSequence = Sequence([item])
    ds.add_new(0x00091010, "LO", f"{c.name} {c.ssn}")  # a private tag
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = 16, 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = images[1, 0].tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def identified_png(c: Canaries) -> bytes:
    """A 16×16 grey PNG carrying a canary in a text chunk, as some exporters write them."""
    from PIL import Image, PngImagePlugin

    images, _ = blob_images(2, 16, seed=4)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", c.note)
    out = io.BytesIO()
    Image.fromarray(images[1, 0]).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def identified_wfdb(c: Canaries, folder: Path) -> dict[str, bytes]:
    """A WFDB record whose header comments hold the patient's identifiers, as MIT-BIH's do."""
    write_record(folder, "rec", seconds=20, seed=7, v_every=4)
    header = (folder / "rec.hea").read_text()
    header += f"# {c.name} MRN {c.mrn} SSN {c.ssn} born {c.dob:%d-%b-%Y}\n# {c.street}, {c.phone}, {c.email}\n"
    return {"rec.hea": header.encode(), "rec.dat": (folder / "rec.dat").read_bytes()}


def identified_edf(c: Canaries, seconds: int = 20, fs: int = 250) -> bytes:
    """An EDF+ recording: its header's patient and recording fields hold identifiers (the
    format puts them there by design), one lead of synthetic ECG."""
    signal_mv, _, _ = synthetic_ecg(seconds=seconds, fs=fs, seed=5)
    digital = np.clip(np.round(signal_mv / 5.0 * 32767), -32768, 32767).astype("<i2")

    def padded(text: str, width: int) -> bytes:
        return text.encode("ascii")[:width].ljust(width)

    patient = f"{c.mrn} M {c.dob:%d-%b-%Y}".upper() + f" {c.last}_{c.first}"
    recording = f"Startdate 01-JAN-2020 {c.ssn} {c.last}-Memorial ECG"
    header = b"".join([
        padded("0", 8), padded(patient, 80), padded(recording, 80), padded("01.01.20", 8), padded("10.00.00", 8),
        padded(str(512), 8), padded("EDF+C", 44), padded(str(seconds), 8), padded("1", 8), padded("1", 4),
        padded("MLII", 16), padded(f"electrode {c.phone}", 80), padded("mV", 8), padded("-5", 8), padded("5", 8),
        padded("-32768", 8), padded("32767", 8), padded(c.email, 80), padded(str(fs), 8), padded("", 32),
    ])
    return header + digital.tobytes()


def identified_bundle(c: Canaries) -> dict[str, Any]:
    """One patient as an EHR sends them: named, numbered, reachable, with notes and a
    condition described in words; the values the heart-failure model reads besides."""
    when = "2020-03-01T09:00:00Z"
    entries = [
        fb.observation("2160-0", 1.4, "mg/dL", when, index=1),
        fb.observation("2951-2", 136, "mmol/L", when, index=2),
        fb.observation("777-3", 250_000, "/uL", when, index=3),
        fb.observation("2157-6", 580, "U/L", when, index=4),
        fb.observation("10230-1", 30, "%", when, index=5),
        fb.condition("38341003", "2015-01-01", index=1),
    ]
    entries[0]["resource"]["note"] = [{"text": c.note}]
    entries[0]["resource"]["performer"] = [{"display": f"Dr. {c.last}"}]
    entries[-1]["resource"]["code"]["text"] = f"hypertension, per {c.name} ({c.mrn})"
    entries[-1]["resource"]["note"] = [{"text": f"{c.name} called from {c.phone}"}]
    bundle = fb.patient_bundle(*entries, birth=c.dob.isoformat(), gender="male")
    bundle["entry"][0]["resource"].update({
        "name": [{"use": "official", "family": c.last, "given": [c.first], "text": c.name}],
        "identifier": [{"system": "http://hospital.example.org/mrn", "value": c.mrn},
                       {"system": "http://hl7.org/fhir/sid/us-ssn", "value": c.ssn}],
        "telecom": [{"system": "phone", "value": c.phone}, {"system": "email", "value": c.email}],
        "address": [{"line": [c.street], "city": "Springfield", "postalCode": "01103"}],
    })
    return bundle


def v2_tabular(c: Canaries) -> dict[str, Any]:
    """A V2 request for the "mixed" model: canaries in its id, an unknown parameter and a BYTES
    tensor (the ward, a category)."""
    return {"id": c.mrn, "parameters": {"patient": c.name}, "inputs": [
        {"name": "age", "shape": [1], "datatype": "FP32", "data": [67.0]},
        {"name": "lactate", "shape": [1], "datatype": "FP32", "data": [2.2]},
        {"name": "sex", "shape": [1], "datatype": "BYTES", "data": ["M"]},
        {"name": "ward", "shape": [1], "datatype": "BYTES", "data": [c.name]}]}
