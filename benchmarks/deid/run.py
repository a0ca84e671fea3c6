"""De-identification recall and precision on the PhysioNet deid nursing notes, on a synthetic
corpus the project generates (benchmarks/deid/synthetic.py), and the clinical-terms-kept check
(benchmarks/deid/clinical_terms.py: eponyms, drugs, devices, abbreviations, labs and units
that must not be removed).

    python -m benchmarks.deid.run [--corpus physionet|synthetic|terms|both] [--data DIR] [--limit N]

``both`` (the default) runs the two corpora and the clinical-terms check.

The gold standard (../shared/data/text/deid_physionet_nursing_part1: real ICU nursing notes
with surrogate PHI, every PHI span annotated; GPL-2.0, read in place, never copied) is
compared with ``medmaas.privacy.deid.find_phi`` by character overlap:

- recall per gold category: a gold span counts as found when at least half of its
  characters are inside found spans (whatever type they were given: a name removed as
  LOCATION is still removed);
- precision: a found span is right when it overlaps a gold span.

Overall recall, precision and F2 (recall weighs 4× precision: a leaked identifier costs more
than an over-redacted word). Years alone ("DateYear") are PHI in this gold standard, but
Safe Harbor keeps years; they are reported and excluded from the overall numbers
(``recall_all_spans`` counts them too).

Misses per category, with examples, and examples of false findings are printed to standard
output. The results file keeps examples only for the generated corpora: PhysioNet text is
GPL-licensed test data and stays out of the repository (its file has counts only).
Throughput is measured after one warm-up note (the word lists load once per process), on
one core.
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


def _snippet(text: str, start: int, end: int, width: int = 40) -> str:
    around = text[max(0, start - width):start] + "[[" + text[start:end] + "]]" + text[end:end + width]
    return " ".join(around.split())


def evaluate(notes: dict, gold: dict, *, examples: int = 0) -> dict:
    """Recall per gold category, precision, throughput; with ``examples``, up to that many
    missed spans per category and false findings per type, as text snippets."""
    from medmaas.privacy.deid import find_phi

    if notes:
        find_phi(next(iter(notes.values())))  # warm-up: word lists load once per process
    found_by_cat, total_by_cat = Counter(), Counter()
    right, found_total = 0, 0
    type_counts: Counter[str] = Counter()
    missed: dict[str, list[str]] = defaultdict(list)
    wrong: dict[str, list[str]] = defaultdict(list)
    wrong_counts: Counter[str] = Counter()
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
            elif len(missed[cat]) < examples:
                missed[cat].append(_snippet(text, start, end))
        for s in spans:
            found_total += 1
            type_counts[s.type] += 1
            if any(s.start < end and start < s.end for start, end, _ in golds):
                right += 1
            else:
                wrong_counts[s.type] += 1
                if len(wrong[s.type]) < examples:
                    wrong[s.type].append(_snippet(text, s.start, s.end))
    seconds = time.perf_counter() - began
    scored = [c for c in total_by_cat if c not in KEPT_BY_SAFE_HARBOR]
    recall = sum(found_by_cat[c] for c in scored) / max(1, sum(total_by_cat[c] for c in scored))
    recall_all = sum(found_by_cat.values()) / max(1, sum(total_by_cat.values()))
    precision = right / max(1, found_total)
    f2 = 5 * precision * recall / max(1e-9, 4 * precision + recall)
    chars = sum(len(t) for t in notes.values())
    result = {
        "notes": len(notes), "gold_spans": sum(total_by_cat.values()), "found_spans": found_total,
        "recall": round(recall, 4), "precision": round(precision, 4), "f2": round(f2, 4),
        "recall_all_spans": round(recall_all, 4),
        "per_category": {c: {"gold": total_by_cat[c], "found": found_by_cat[c],
                             "recall": round(found_by_cat[c] / total_by_cat[c], 4)}
                         for c in sorted(total_by_cat, key=lambda c: -total_by_cat[c])},
        "found_by_type": dict(type_counts.most_common()),
        "false_by_type": dict(wrong_counts.most_common()),
        "seconds": round(seconds, 2), "notes_per_second": round(len(notes) / max(seconds, 1e-9), 1),
        "mean_note_chars": round(chars / max(1, len(notes))),
        "kb_per_second": round(chars / 1000 / max(seconds, 1e-9), 1),
    }
    if examples:
        result["missed_examples"] = {c: missed[c] for c in result["per_category"] if missed[c]}
        result["false_examples"] = dict(wrong)
    return result


def _report(result: dict) -> None:
    """The misses by category, with examples, and the false findings: the benchmark's own output."""
    if "gold_spans" in result:
        print(f"\n== {result['corpus']}: misses by category ==")
    for cat, row in result.get("per_category", {}).items() if "gold_spans" in result else ():
        lost = row["gold"] - row["found"]
        if lost:
            print(f"{cat}: {lost} of {row['gold']} missed (recall {row['recall']})")
            for example in result.get("missed_examples", {}).get(cat, []):
                print(f"    {example}")
    if result.get("false_examples"):
        print(f"== {result['corpus']}: findings that are no gold span ==")
        for kind, shown in result["false_examples"].items():
            print(f"{kind}: {result['false_by_type'][kind]}")
            for example in shown:
                print(f"    {example}")
    if result.get("removed_examples"):
        print(f"\n== {result['corpus']}: clinical terms removed ({result['removed']} of {result['sentences']}) ==")
        for cat, shown in result["removed_examples"].items():
            for example in shown:
                print(f"    [{cat}] {example}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=["physionet", "synthetic", "terms", "both"], default="both")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="only the first N notes")
    parser.add_argument("--examples", type=int, default=15, help="examples printed per category")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S")
    corpora = ["physionet", "synthetic", "terms"] if args.corpus == "both" else [args.corpus]
    for corpus in corpora:
        if corpus == "terms":
            from benchmarks.deid.clinical_terms import evaluate_terms

            result = {"corpus": "clinical-terms", **evaluate_terms()}
            stored = result
        else:
            if corpus == "physionet":
                if not (args.data / "id.text").exists():
                    raise SystemExit(f"PhysioNet deid notes not found under {args.data} (set --data)")
                notes, gold = read_notes(args.data), read_gold(args.data)
            else:
                from benchmarks.deid.synthetic import generate

                notes, gold = generate()
            if args.limit:
                notes = dict(list(notes.items())[:args.limit])
            result = {"corpus": corpus, **evaluate(notes, gold, examples=args.examples)}
            # PhysioNet's text is GPL test data: its examples are shown, never stored in the repository
            stored = ({k: v for k, v in result.items() if k not in ("missed_examples", "false_examples")}
                      if corpus == "physionet" else result)
        (RESULTS / f"{result['corpus']}-{stamp}.json").write_text(json.dumps(stored, indent=1) + "\n")
        print(json.dumps({k: v for k, v in result.items()
                          if k not in ("missed_examples", "false_examples", "removed_examples")}, indent=1))
        _report(result)


if __name__ == "__main__":
    main()
