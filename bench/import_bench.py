"""Bank statement import: time and peak memory against file size (issue 13, item 11).

For each size a statement is generated in a temp dir (CSV: a CBA-style export, one line per
transaction, every 100th line a repeat of the one before; OFX: SGML OFX 1.x, one
``<STMTTRN>`` of 8 lines per transaction, every 100th a repeat), a fresh SQLCipher database
is made there (with a CSV bank import config), and ``skimd journal import-bank`` 's own path
is run in a CHILD process: built by ``bootstrap.build(settings, access=SHARED)`` as the
command builds it, the database opened (key derived), then ``App.journal.import_bank`` timed
with ``time.perf_counter``.

Before the import the child also reads the whole statement without storing it
(``iter_statement``, ``read s``): the reader's own time, apart from the database's.

Memory, per child:

- ``peak RSS``: the whole child process's high-water mark (``os.wait4``'s ``ru_maxrss``):
  Python, the libraries, the key derivation and the import;
- ``import peak``: the high-water mark from just before the import to its end (the child
  resets it through ``/proc/self/clear_refs`` once the database is open), i.e. what the
  import itself needs on top of an opened App; ``-`` where the kernel does not allow it.

The Argon2 parameters are the production defaults (64 MiB, t=3) unless ``--small-kdf``: the
key derivation's 64 MiB is usually the child's peak, and it is what an operator's
``import-bank`` costs. ``growth`` is (time ratio) / (size ratio) against the previous size
of the same format: about 1 means linear. The import's own growth above the reader's is
SQLite's: every line goes into the unique ``hash`` index, a B-tree with random keys, at
O(log n) page visits a line, more of them missing the page cache as the index grows.

Run: ``python bench/import_bench.py [--csv N ...] [--ofx N ...] [--small-kdf]`` from the
repository root (defaults: CSV 100k and 1M lines, OFX 10k and 100k transactions). Prints
figures only, never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSPHRASE = "import bench passphrase"
SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}
CBA = {
    "name": "cba",
    "date_column": "Date",
    "description_column": "Description",
    "amount_column": "Amount",
    "reference_column": "Reference",
    "balance_column": "Balance",
    "amount_sign": "credit_positive",
}
DESCRIPTIONS = (
    "CARD PURCHASE COFFEE SYDNEY",
    "TRANSFER FROM IBKR PAYOUT",
    "EFTPOS WOOLWORTHS 1234 BONDI",
    "DIRECT DEBIT AGL ENERGY",
    "SALARY ACME PTY LTD",
)


def _lines(n: int) -> Iterator[tuple[date, str, str, str]]:
    """(day, description, amount, reference); every 100th line repeats the one before."""
    start = date(2020, 1, 1)
    previous: tuple[date, str, str, str] | None = None
    for i in range(n):
        if previous is not None and i % 100 == 99:
            yield previous
            continue
        cents = (i * 7919) % 500_000 - 250_000
        amount = f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"
        previous = (
            start + timedelta(days=i // 300),
            f"{DESCRIPTIONS[i % len(DESCRIPTIONS)]} {i % 9973}",
            amount,
            f"TX{i:09d}",
        )
        yield previous


def write_csv(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Date,Description,Amount,Reference,Balance\n")
        for i, (day, text, amount, ref) in enumerate(_lines(n)):
            fh.write(f"{day:%d/%m/%Y},{text},{amount},{ref},{10_000 + i % 5000}.00\n")


def write_ofx(path: Path, n: int) -> None:
    with path.open("w", encoding="ascii", newline="\n") as fh:
        fh.write(
            "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nCHARSET:1252\n\n<OFX>\n"
            "<BANKMSGSRSV1>\n<STMTTRNRS>\n<STMTRS>\n<CURDEF>AUD\n<BANKTRANLIST>\n"
        )
        for day, text, amount, ref in _lines(n):
            kind = "DEBIT" if amount.startswith("-") else "CREDIT"
            fh.write(
                f"<STMTTRN>\n<TRNTYPE>{kind}\n<DTPOSTED>{day:%Y%m%d}\n<TRNAMT>{amount}\n"
                f"<FITID>{ref}\n<NAME>{text}\n<MEMO>{kind.lower()} &amp; more\n</STMTTRN>\n"
            )
        fh.write("</BANKTRANLIST>\n</STMTRS>\n</STMTTRNRS>\n</BANKMSGSRSV1>\n</OFX>\n")


def _settings(data_dir: Path, small_kdf: bool) -> Any:
    from pydantic import SecretStr

    from skimd.config import DatabaseSettings, LoggingSettings, PathSettings, Settings

    kdf: dict[str, Any] = SMALL_KDF if small_kdf else {}
    return Settings(
        paths=PathSettings(data_dir=data_dir),
        logging=LoggingSettings(level="WARNING"),
        database=DatabaseSettings(passphrase=SecretStr(PASSPHRASE), **kdf),
    )


def make_database(data_dir: Path, small_kdf: bool) -> None:
    from skimd import bootstrap

    data_dir.mkdir(mode=0o700)
    settings = _settings(data_dir, small_kdf)
    app = bootstrap.build(
        settings, access=bootstrap.Access.EXCLUSIVE, environ={}, create_database=True
    )
    with app:
        app.journal.add_bank_config(replace=False, **CBA)


# -- the child: one import, measured -------------------------------------------------------


def _status_kib(field: str) -> int | None:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return None if match is None else int(match.group(1))


def child(data_dir: Path, statement: Path, small_kdf: bool) -> None:
    from skimd import bootstrap
    from skimd.infrastructure.bank_import import AmountSign, CsvImportConfig, iter_statement

    settings = _settings(data_dir, small_kdf)
    with bootstrap.build(settings, access=bootstrap.Access.SHARED, environ={}) as app:
        journal = app.journal  # opens the database: the key is derived here
        started = time.perf_counter()
        config = CsvImportConfig(**{**CBA, "amount_sign": AmountSign.CREDIT_POSITIVE})
        read = sum(1 for _ in iter_statement(statement, "bench", config))
        read_seconds = time.perf_counter() - started
        try:
            Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
            reset = True
        except OSError:
            reset = False
        started = time.perf_counter()
        added, skipped, _ = journal.import_bank(statement, "cba", "bench")
        seconds = time.perf_counter() - started
        import_peak = _status_kib("VmHWM") if reset else None
    print(json.dumps({"added": added, "skipped": skipped, "seconds": seconds, "read": read,
                      "read_seconds": read_seconds, "import_peak_kib": import_peak}))


def measure(data_dir: Path, statement: Path, small_kdf: bool) -> dict[str, Any]:
    args = [sys.executable, __file__, "--child", str(data_dir), str(statement)]
    errors = statement.with_name("child.stderr")
    with errors.open("w") as err:
        proc = subprocess.Popen(
            [*args, *(["--small-kdf"] if small_kdf else [])],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here, for this child's rusage
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}): {errors.read_text()[-2000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_kib"] = usage.ru_maxrss
    return result


def run(csv_sizes: list[int], ofx_sizes: list[int], small_kdf: bool) -> None:
    cases = [("csv", n) for n in csv_sizes] + [("ofx", n) for n in ofx_sizes]
    kdf = "Argon2 t=1, 8 MiB (--small-kdf)" if small_kdf else "Argon2 production defaults"
    print(f"bank import, {kdf}; one child process per import\n")
    header = (
        f"{'format':<6} {'lines/txns':>10} {'file MB':>8} {'added':>9} {'skipped':>7} "
        f"{'read s':>7} {'growth':>6} {'import s':>8} {'us/txn':>6} {'growth':>6} "
        f"{'peak RSS MB':>11} {'import peak MB':>14}"
    )
    print(header)
    print("-" * len(header))
    previous: dict[str, tuple[int, float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="skimd-import-bench-") as tmp:
        for index, (kind, n) in enumerate(cases):
            case = Path(tmp) / f"case{index}"
            case.mkdir()
            statement = case / f"statement.{kind}"
            (write_csv if kind == "csv" else write_ofx)(statement, n)
            make_database(case / "data", small_kdf)
            r = measure(case / "data", statement, small_kdf)
            if not r["read"] == n == r["added"] + r["skipped"]:
                raise SystemExit(f"{kind} {n}: lines read/added/skipped disagree: {r}")
            read_growth = growth = "-"
            if kind in previous:
                n0, r0, s0 = previous[kind]
                read_growth = f"{(r['read_seconds'] / r0) / (n / n0):.2f}"
                growth = f"{(r['seconds'] / s0) / (n / n0):.2f}"
            previous[kind] = (n, r["read_seconds"], r["seconds"])
            peak = r["import_peak_kib"]
            print(
                f"{kind:<6} {n:>10,} {statement.stat().st_size / 1e6:>8.1f} {r['added']:>9,} "
                f"{r['skipped']:>7,} {r['read_seconds']:>7.2f} {read_growth:>6} "
                f"{r['seconds']:>8.2f} {r['seconds'] / n * 1e6:>6.1f} {growth:>6} "
                f"{r['peak_kib'] / 1024:>11.1f} "
                f"{'-' if peak is None else f'{peak / 1024:.1f}':>14}",
                flush=True,
            )
            for path in sorted(case.rglob("*"), reverse=True):  # free the disk as we go
                path.unlink() if not path.is_dir() else path.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--ofx", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--small-kdf", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("DATA_DIR", "STATEMENT"))
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), args.small_kdf)
    else:
        run(args.csv, args.ofx, args.small_kdf)


if __name__ == "__main__":
    main()
