"""De-identification recall and precision on the PhysioNet deid nursing notes, and on a
synthetic corpus the project generates (benchmarks/deid/synthetic.py).

    python -m benchmarks.deid.run [--corpus physionet|synthetic|both] [--data DIR] [--limit N]

The gold standard (../shared/data/text/deid_physionet_nursing_part1: real ICU nursing notes
with surrogate PHI, every PHI span annotated; GPL-2.0, read in place, never copied) is
compared with ``medmaas.privacy.deid.find_phi`` by character overlap:

- recall per gold category: a gold span counts as found when at least half of its
  characters are inside found spans (whatever type they were given: a name removed as
  LOCATION is still removed);
- precision: a found span is right when it overlaps a gold span.

Overall recall, precision and F2 (recall weighs 4× precision: a leaked identifier costs more
than an over-redacted word). Years alone ("DateYear") are PHI in this gold standard, but
Safe Harbor keeps years; they are reported and excluded from the overall numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_DATA = Path(os.environ.get("MEDMAAS_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) \
    / "text" / "deid_physionet_nursing_part1"
RESULTS = Path(__file__).resolve().parent / "results"
KEPT_BY_SAFE_HARBOR = {"DateYear"}
RECORD = re.compile(r"START_OF_RECORD=(\d+)\|\|\|\|(\d+)\|\|\|\|\n(.*?)\|\|\|\|END_OF_RECORD", re.S)


def read_notes(data: Path) -> dict[tuple[int, int], str]:
    """(patient, note) → text; offsets count from the character after the header's newline."""
    text = (data / "id.text").read_text(encoding="latin-1")
    return {(int(m.group(1)), int(m.group(2))): m.group(3) for m in RECORD.finditer(text)}


def read_gold(data: Path) -> dict[tuple[int, int], list[tuple[int, int, str]]]:
    gold: dict[tuple[int, int], list[tuple[int, int, str]]] = defaultdict(list)
    for line in (data / "id-phi.phrase").read_text(encoding="latin-1").splitlines():
        parts = line.split()
        if len(parts) >= 5:
            gold[(int(parts[0]), int(parts[1]))].append((int(parts[2]), int(parts[3]), parts[4]))
    return gold


def evaluate(notes: dict, gold: dict) -> dict:
    from medmaas.privacy.deid import find_phi

    found_by_cat, total_by_cat = Counter(), Counter()
    right, found_total = 0, 0
    type_counts: Counter[str] = Counter()
    began = time.perf_counter()
    for key, text in notes.items():
        spans = find_phi(text)
        covered = bytearray(len(text) + 1)
        for s in spans:
            covered[s.start:s.end] = b"\x01" * (s.end - s.start)
        golds = gold.get(key, [])
        for start, end, cat in golds:
            total_by_cat[cat] += 1
            if end > start and sum(covered[start:end]) * 2 >= end - start:
                found_by_cat[cat] += 1
        for s in spans:
            found_total += 1
            type_counts[s.type] += 1
            if any(s.start < end and start < s.end for start, end, _ in golds):
                right += 1
    seconds = time.perf_counter() - began
    scored = [c for c in total_by_cat if c not in KEPT_BY_SAFE_HARBOR]
    recall = sum(found_by_cat[c] for c in scored) / max(1, sum(total_by_cat[c] for c in scored))
    precision = right / max(1, found_total)
    f2 = 5 * precision * recall / max(1e-9, 4 * precision + recall)
    return {
        "notes": len(notes), "gold_spans": sum(total_by_cat.values()), "found_spans": found_total,
        "recall": round(recall, 4), "precision": round(precision, 4), "f2": round(f2, 4),
        "per_category": {c: {"gold": total_by_cat[c], "found": found_by_cat[c],
                             "recall": round(found_by_cat[c] / total_by_cat[c], 4)}
                         for c in sorted(total_by_cat, key=lambda c: -total_by_cat[c])},
        "found_by_type": dict(type_counts.most_common()),
        "seconds": round(seconds, 2), "notes_per_second": round(len(notes) / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=["physionet", "synthetic", "both"], default="both")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="only the first N notes")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S")
    corpora = ["physionet", "synthetic"] if args.corpus == "both" else [args.corpus]
    for corpus in corpora:
        if corpus == "physionet":
            if not (args.data / "id.text").exists():
                raise SystemExit(f"PhysioNet deid notes not found under {args.data} (set --data)")
            notes, gold = read_notes(args.data), read_gold(args.data)
        else:
            from benchmarks.deid.synthetic import generate

            notes, gold = generate()
        if args.limit:
            notes = dict(list(notes.items())[:args.limit])
        result = {"corpus": corpus, **evaluate(notes, gold)}
        (RESULTS / f"{corpus}-{stamp}.json").write_text(json.dumps(result, indent=1))
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
