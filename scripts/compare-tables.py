"""Compare a fresh run's headline tables with the committed ones (docs/reproduce.md).

    python scripts/compare-tables.py                      # results/headline/tables/*.csv against git HEAD
    python scripts/compare-tables.py --ref v0.1.0         # ... against another commit
    python scripts/compare-tables.py --ref-dir OLD NEW    # two folders of tables, no git needed

Each table is reported as identical (byte for byte), equal within the tolerance (numbers that differ only in
their last digits, as another NumPy or SciPy build may give), or different (with the columns, the number of
rows and the largest difference). Exit status 0 when every table agrees, 1 otherwise, 2 on bad input.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TABLES = Path("results/headline/tables")


def committed(commit: str, path: Path) -> bytes | None:
    """The file at ``path`` (relative to the repository) as committed in ``commit``; None if absent there."""
    proc = subprocess.run(["git", "show", f"{commit}:{path.as_posix()}"], cwd=ROOT, capture_output=True)
    return proc.stdout if proc.returncode == 0 else None


def compare(name: str, old: bytes, new: bytes, rtol: float, atol: float) -> tuple[bool, str]:
    """Whether two CSV tables agree, and a one-line verdict."""
    if old == new:
        return True, "identical"
    a, b = pd.read_csv(io.BytesIO(old)), pd.read_csv(io.BytesIO(new))
    if list(a.columns) != list(b.columns):
        return False, f"different columns: {sorted(set(a.columns) ^ set(b.columns))}"
    if len(a) != len(b):
        return False, f"{len(a)} rows committed, {len(b)} now"
    problems, worst = [], 0.0
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xf, yf = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            close = np.isclose(xf, yf, rtol=rtol, atol=atol, equal_nan=True)
            if not close.all():
                diff = np.abs(xf - yf)[~close]
                problems.append(f"{col} ({(~close).sum()} rows, up to {np.nanmax(diff):.4g})")
            both = ~(np.isnan(xf) | np.isnan(yf))
            if both.any():
                worst = max(worst, float(np.max(np.abs(xf[both] - yf[both]))))
        elif not x.astype(str).equals(y.astype(str)):
            problems.append(f"{col} ({(x.astype(str) != y.astype(str)).sum()} rows)")
    if problems:
        return False, "differs in " + ", ".join(problems)
    return True, f"equal within rtol {rtol:g} (largest difference {worst:.3g})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path, default=None,
                    help=f"the fresh tables (default {TABLES}; with --ref-dir, the second folder)")
    ap.add_argument("--ref", default="HEAD", help="the commit holding the reference tables (default HEAD)")
    ap.add_argument("--ref-dir", type=Path, help="a folder of reference tables instead of a commit")
    ap.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance for numbers (default 1e-9)")
    ap.add_argument("--atol", type=float, default=1e-12, help="absolute tolerance for numbers (default 1e-12)")
    args = ap.parse_args(argv)

    folder = args.folder if args.folder is not None else ROOT / TABLES
    if not folder.is_dir():
        print(f"error: {folder} is not a folder of tables (run `make run` first)", file=sys.stderr)
        return 2
    fresh = {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}
    if args.ref_dir is not None:
        if not args.ref_dir.is_dir():
            print(f"error: --ref-dir {args.ref_dir} is not a folder", file=sys.stderr)
            return 2
        reference = {p.name: p.read_bytes() for p in sorted(args.ref_dir.glob("*.csv"))}
        where = str(args.ref_dir)
    else:
        listing = subprocess.run(["git", "ls-tree", "--name-only", f"{args.ref}:{TABLES.as_posix()}"], cwd=ROOT,
                                 capture_output=True, text=True)
        if listing.returncode != 0:
            print(f"error: no {TABLES} in commit {args.ref!r}: {listing.stderr.strip()}", file=sys.stderr)
            return 2
        names = [n for n in listing.stdout.split() if n.endswith(".csv")]
        reference = {n: committed(args.ref, TABLES / n) for n in names}
        where = f"commit {args.ref}"
    if not reference:
        print(f"error: no reference tables in {where}", file=sys.stderr)
        return 2

    ok = True
    for name in sorted(set(reference) | set(fresh)):
        if name not in fresh:
            agree, verdict = False, "missing from the fresh tables"
        elif name not in reference:
            agree, verdict = False, f"not in {where}"
        else:
            agree, verdict = compare(name, reference[name], fresh[name], args.rtol, args.atol)
        ok &= agree
        print(f"{'ok  ' if agree else 'DIFF'} {name}: {verdict}")
    print(f"{'every table agrees with' if ok else 'some tables differ from'} {where}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
