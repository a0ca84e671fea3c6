"""Summaries of a run: medians over rounds, the console table, the RESULTS.md section, the JSON."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from .prepare import BENCH

RESULTS_MD = BENCH / "RESULTS.md"
LATEST_JSON = BENCH / "serving" / "results" / "latest.json"
BEGIN, END = "<!-- serving:begin -->", "<!-- serving:end -->"
HEADER = ("# medmaas benchmarks\n\nEach section is written by a harness under `benchmarks/`; "
          "text between its markers is replaced on every run.\n")
WORKLOADS = ("1-row", "64-row", "mixed")

# The targets for medmaas.
TARGET_RPS = 10_000
TARGET_P99_MS = 5.0
TARGET_CEILING_SHARE = 0.60
TARGET_ROWS_PER_S = 200_000
TARGET_RSS_MB = 250
TARGET_READY_S = 2.0


def summarize(results: dict) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """server -> workload -> median/min/max of rps, rows/s, p50, p99, and total errors."""
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    for name, server in results["servers"].items():
        out[name] = {}
        for workload in WORKLOADS:
            runs = [r for r in server.get("runs", {}).get(workload, []) if "error" not in r]
            cell: dict[str, float | int | None] = {
                "n": len(runs),
                "errors": sum(r["error_count"] for r in runs),
                "failed_runs": len(server.get("runs", {}).get(workload, [])) - len(runs),
            }
            for key in ("rps", "rows_per_s", "p50_ms", "p99_ms"):
                values = [r[key] for r in runs]
                cell[key] = statistics.median(values) if values else None
                cell[key + "_min"] = min(values) if values else None
                cell[key + "_max"] = max(values) if values else None
            out[name][workload] = cell
    return out


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ranged(cell: dict, key: str) -> str:
    if cell.get(key) is None:
        return "—"
    if cell["n"] < 2:
        return _num(cell[key])
    return f"{_num(cell[key])} ({_num(cell[key + '_min'])}–{_num(cell[key + '_max'])})"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _us(value: float) -> str:
    return f"{value / 1000:.3f} (median call)"


def table_rows(results: dict, summary: dict) -> list[list[str]]:
    header = ["server", "1-row req/s", "p50 ms", "p99 ms", "errors 1/64/mixed",
              "64-row rows/s", "p99 ms", "mixed req/s", "mixed rows/s", "peak RSS MB"]
    rows = [header]
    for name, server in results["servers"].items():
        label = server["label"]
        if server.get("error"):
            rows.append([label, f"failed: {server['error'].splitlines()[0][:80]}"]
                        + [""] * (len(header) - 2))
            continue
        one, big, mixed = (summary[name][w] for w in WORKLOADS)
        errors = " / ".join(
            str(c["errors"]) + (f" (+{c['failed_runs']} failed runs)" if c["failed_runs"] else "")
            for c in (one, big, mixed))
        rows.append([label, _ranged(one, "rps"), _ms(one["p50_ms"]), _ms(one["p99_ms"]), errors,
                     _ranged(big, "rows_per_s"), _ms(big["p99_ms"]), _ranged(mixed, "rps"),
                     _ranged(mixed, "rows_per_s"), _num(server.get("peak_rss_mb"))])
    inproc = results.get("inprocess")
    if inproc:
        one, big = inproc["1-row"], inproc["64-row"]
        rows.append(["onnxruntime in-process, no HTTP (reference)",
                     f"{_num(one['calls_per_s'])} calls/s", _us(one["median_us"]), "—",
                     "—", _num(big["rows_per_s"]), _us(big["median_us"]), "—", "—", "—"])
    return rows


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "—"
    return f"{a / b:.2f}×" if a / b >= 0.1 else f"{a / b:.3f}×"


def ratio_rows(results: dict, summary: dict) -> list[list[str]]:
    if "medmaas" not in summary or results["servers"]["medmaas"].get("error"):
        return []
    mine = summary["medmaas"]
    rows = [["medmaas ÷ …", "1-row req/s", "64-row rows/s", "mixed rows/s"]]
    for name, server in results["servers"].items():
        if name == "medmaas" or server.get("error"):
            continue
        peer = summary[name]
        rows.append([server["label"],
                     _ratio(mine["1-row"]["rps"], peer["1-row"]["rps"]),
                     _ratio(mine["64-row"]["rows_per_s"], peer["64-row"]["rows_per_s"]),
                     _ratio(mine["mixed"]["rows_per_s"], peer["mixed"]["rows_per_s"])])
    return rows


def target_rows(results: dict, summary: dict) -> list[list[str]]:
    rows = [["target (medmaas)", "measured", "met?"]]

    def add(what: str, value: float | None, shown: str, ok: bool | None) -> None:
        verdict = "not measured" if value is None or ok is None else "met" if ok else "missed"
        rows.append([what, shown if value is not None else "—", verdict])

    medmaas = summary.get("medmaas")
    if medmaas and not results["servers"]["medmaas"].get("error"):
        rps, p99 = medmaas["1-row"]["rps"], medmaas["1-row"]["p99_ms"]
        rows_s = medmaas["64-row"]["rows_per_s"]
        add(f"1-row ≥ {TARGET_RPS:,} req/s", rps, f"{_num(rps)} req/s",
            rps is not None and rps >= TARGET_RPS)
        add(f"1-row p99 ≤ {TARGET_P99_MS:g} ms", p99, f"{_ms(p99)} ms",
            p99 is not None and p99 <= TARGET_P99_MS)
        ceiling = summary.get("ceiling")
        if ceiling and not results["servers"]["ceiling"].get("error"):
            for workload, key, unit in (("1-row", "rps", "req/s"), ("64-row", "rows_per_s", "rows/s")):
                share = (medmaas[workload][key] / ceiling[workload][key]
                         if medmaas[workload][key] and ceiling[workload][key] else None)
                add(f"{workload} {unit} ≥ {TARGET_CEILING_SHARE:.0%} of the ceiling", share,
                    f"{share:.1%}" if share is not None else "—",
                    share is not None and share >= TARGET_CEILING_SHARE)
        else:
            add(f"≥ {TARGET_CEILING_SHARE:.0%} of the ceiling", None, "", None)
        add(f"64-row ≥ {TARGET_ROWS_PER_S:,} rows/s", rows_s, f"{_num(rows_s)} rows/s",
            rows_s is not None and rows_s >= TARGET_ROWS_PER_S)
    startup = results.get("medmaas_startup") or {}
    rss, ready = startup.get("peak_rss_mb"), startup.get("ready_median_s")
    add(f"peak RSS with ten models ≤ {TARGET_RSS_MB} MB", rss, f"{_num(rss)} MB",
        rss is not None and rss <= TARGET_RSS_MB)
    add(f"ready ≤ {TARGET_READY_S:g} s (median of 3 starts)", ready,
        f"{ready:.2f} s" if ready is not None else "", ready is not None and ready <= TARGET_READY_S)
    return rows


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()
                     for row in rows)


def console(results: dict) -> str:
    summary = summarize(results)
    parts = [text_table(table_rows(results, summary))]
    for rows in (ratio_rows(results, summary), target_rows(results, summary)):
        if len(rows) > 1:
            parts.append(text_table(rows))
    return "\n\n".join(parts)


def section(results: dict) -> str:
    summary = summarize(results)
    m, v = results["machine"], results["versions"]
    startup = results.get("medmaas_startup") or {}
    lines = [
        "## Serving",
        "",
        f"Run {results['date']} on {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM; "
        f"took {results['elapsed_s'] / 60:.0f} min.",
        "",
        f"Command: `{results['command']}`",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        f"Load: wrk, {results['connections']} connections, {results['threads']} threads, "
        f"{results['duration_s']:g} s per run after a {results['warmup_s']:g} s warm-up, "
        f"{results['rounds']} interleaved round(s); numbers are medians over rounds with the "
        "range in parentheses. One worker process per server, all on 127.0.0.1 and on the same "
        "machine as wrk. 1-row: one row per request; 64-row: 64 rows per request (rows/s = "
        "req/s × 64); mixed: 1, 8 or 64 rows per request at 80/15/5 %. Errors are socket "
        "errors plus responses with status ≥ 400, summed over rounds. Peak RSS: the most "
        "resident memory of the server's whole process tree, sampled every 100 ms during its "
        "runs. See `benchmarks/serving/README.md`.",
        "",
        markdown_table(table_rows(results, summary)),
        "",
    ]
    ratios = ratio_rows(results, summary)
    if len(ratios) > 1:
        lines += ["Ratios (medians; above 1× medmaas is faster):", "", markdown_table(ratios), ""]
    if startup:
        ready = ", ".join(f"{s:.2f}" for s in startup.get("ready_s", []))
        lines += [
            f"medmaas start-up and memory: `medmaas serve --no-builtin` answered 200 on "
            f"/readyz after {ready} s (median {startup['ready_median_s']:.2f} s) with "
            f"{startup['models'] + 1} models registered ({startup['how']}); after one "
            f"prediction on each of the ten ({startup.get('predict_ok', 0)} answered 200), "
            f"peak RSS (VmHWM) was {_num(startup.get('peak_rss_mb'))} MB "
            f"({_num(startup.get('rss_ready_mb'))} MB when ready). The table's peak RSS is "
            "under load, with one model.",
            "",
        ]
    lines += ["Targets from the issue:", "", markdown_table(target_rows(results, summary)), ""]
    notes = results.get("notes") or []
    if notes:
        lines += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def write_markdown(results: dict, path: Path = RESULTS_MD) -> None:
    text = path.read_text() if path.exists() else HEADER
    block = f"{BEGIN}\n{section(results)}{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def write_json(results: dict, path: Path = LATEST_JSON) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    results = {**results, "summary": summarize(results)}
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
