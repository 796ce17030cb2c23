"""[F] Mapping imports: a dump without a date column against the same dump with one.

The peer is the same file with its date column: the real Agora 2014 sample (7,986 rows,
26 days in its `date` column, feedback blocks) imported with the shipped `agora-2014`
mapping, against a copy without the `date` column imported with the same mapping minus
`observed_at` (every row then observed at the moment of the import). Goal: without the
date within 2x of with it. Also the real 2017 scrape (`dnm-2017`, two files, the date
only in the file names, Mac OS Roman, CR line ends). Each import into a fresh workspace;
best of three; wall time of `import_files` only.
"""

from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "markets"
RUNS = 3


def _best(paths: list[Path], mapping: object, workdir: Path, tag: str) -> tuple[float, int]:
    from spector.extract._csv import import_files
    from spector.store import Workspace

    best, rows = float("inf"), 0
    for run in range(RUNS):
        with Workspace.init(workdir / f"ws-{tag}-{run}") as ws:
            start = time.perf_counter()
            reports = import_files(ws.store, paths, mapping)  # type: ignore[arg-type]
            best = min(best, time.perf_counter() - start)
        rows = sum(r.imported for r in reports)
        if rows != sum(r.rows for r in reports):
            raise RuntimeError(f"{tag}: rows failed to import: {[r.first_error for r in reports]}")
    return best, rows


def run() -> list[str]:
    from spector.extract._mapping import load_mapping, parse_mapping

    agora = DATA / "agora-2014-01-01.csv"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        undated = workdir / "agora-2014-no-date.csv"
        with agora.open(encoding="utf-8", newline="") as src:
            reader = csv.DictReader(src)
            names = [n for n in reader.fieldnames or [] if n != "date"]
            with undated.open("w", encoding="utf-8", newline="") as out:
                writer = csv.DictWriter(out, names, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(reader)
        dated_map = load_mapping("agora-2014")
        raw = dated_map.model_dump(exclude_none=True, exclude_defaults=True)
        raw["source"].pop("observed_at")
        raw["source"].pop("observed_precision")
        undated_map = parse_mapping(raw, "agora-2014 without observed_at")

        with_date, rows = _best([agora], dated_map, workdir, "dated")
        without, rows2 = _best([undated], undated_map, workdir, "undated")
        dnm = sorted((DATA / "dnm-2017-sample").glob("*.csv"))
        dnm_time, dnm_rows = _best(dnm, load_mapping("dnm-2017"), workdir, "dnm")
    ratio = without / with_date
    return [
        f"agora-2014 with its date column:    {rows:,} rows in {with_date:.2f} s = "
        f"{rows / with_date:,.0f} rows/s",
        f"agora-2014 without a date column:   {rows2:,} rows in {without:.2f} s = "
        f"{rows2 / without:,.0f} rows/s",
        f"ratio without / with: {ratio:.2f}x (goal <= 2x) {'ok' if ratio <= 2 else 'MISSED'}",
        f"dnm-2017 (2 files, date in the file name): {dnm_rows:,} rows in {dnm_time:.2f} s = "
        f"{dnm_rows / dnm_time:,.0f} rows/s",
    ]
