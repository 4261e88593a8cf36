"""Start → READY time and steady RSS of `skimd run`, for each shipped config side by side.

Starts the real console entry point as a subprocess with NOTIFY_SOCKET pointing at a
datagram socket here, times the READY=1 datagram, samples RSS from /proc after a few
seconds of steady running, then stops it with SIGTERM; ``--runs`` times per config, the
median shown (this box is shared: single runs of READY vary by ±0.3 s). Targets: READY ≤
1.5 s, RSS ≤ 80 MB.

``demo``: ``config/skimd.toml`` as shipped (the demo broker). ``production``:
``config/skimd.production.toml`` as shipped, with its secrets given the way the unit gives
them (a ``CREDENTIALS_DIRECTORY`` holding every credential by its systemd name), its paths
moved into a temp dir, and ``[ibkr] base_url`` pointed at the project's fake IBKR served
on 127.0.0.1 in this process (it checks OAuth itself), so the IBKR broker is really built.
Its RSS is sampled only after ``skimd run-job sync`` has run in the daemon through the
control socket: connect, live session token (RSA work in the key child), accounts,
reconciliation, positions and executions at the fake, i.e. a trading daemon's steady
state; the IBKR call count proves it. So that the job runs whenever the bench is run, the
market zone is moved to a fixed-offset zone where it is now midday of a weekday (at a
weekend everywhere the job is skipped and the line says so). The last column says whether
cryptography's native module is mapped into the daemon (it must not be: the RSA private
keys are used in a short-lived child process).

``--breakdown`` then starts one fresh interpreter per step and prints the RSS after
importing each layer the production daemon loads on top of the demo's (where the
difference between the two configs goes), and what the RSA key child costs per call.

The daemon runs in a venv as deployed (``pip install`` of the project without its test
extra: the README's deploy step), not in the development venv: test-only packages change
what the daemon loads (selenium brings trio, which httpcore imports whenever it is
installed: +6 MB; pytest brings pygments). ``--python`` names its interpreter; by default
``.bench-venv`` in the repository is made on first use (``python -m venv`` +
``pip install -e .``, so it follows the working tree) and reused. Its environment is the one
systemd gives the unit (:data:`SERVICE_ENV` from this shell, plus what the unit sets), not
the caller's: a shell exporting ``SSL_CERT_FILE`` would make the daemon's TLS context parse
that whole CA bundle (+1.2 MB), which the deployed daemon does not do.

Run from the repository root: ``python bench/startup.py [--config demo|production|both]
[--runs 3] [--steady-s 3] [--breakdown] [--python PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from skimd.clock import SystemClock  # noqa: E402
from skimd.infrastructure.brokers.ibkr.rsa_child_process import child_command  # noqa: E402
from tests.fakes.discord_server import FakeDiscord  # noqa: E402
from tests.fakes.ibkr_server import FakeIbkr, FakeIbkrKeys, serve_loopback  # noqa: E402
from tests.fakes.processes import unit_python_env  # noqa: E402

# The production measurement is taken after this job has run in the daemon (connect, LST,
# accounts, reconcile, positions and executions at the fake): a trading daemon's steady state.
SESSION_JOB = "sync"
# ... and again after this one: expiry, daily bars, the trade reports and the daily summary,
# whose alert goes to the (loopback) Discord webhook through the render helper.
DAY_JOB = "end_of_day"
RUST_BINDINGS = "_rust.abi3.so"  # cryptography's native module

CONFIGS = {"demo": "config/skimd.toml", "production": "config/skimd.production.toml"}
BENCH_VENV = ROOT / ".bench-venv"
DAEMON_PYTHON = [sys.executable]  # set by main(): the deployed-like venv's interpreter


def deployed_python(given: str | None) -> str:
    """``given``, else ``.bench-venv``'s interpreter, making that venv on first use."""
    if given:
        return given
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        print(f"making {BENCH_VENV} (pip install -e . without extras) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", str(ROOT)],
                       check=True)
    # the README's deploy step 4: the unit runs with PYTHONOPTIMIZE=2, whose .opt-2.pyc files
    # are compiled at install (an editable install compiles the tree on first run instead)
    subprocess.run([python, "-OO", "-m", "compileall", "-q", "-j0", str(BENCH_VENV / "lib"),
                    str(ROOT / "skimd"), stdlib_dir(str(python))],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return str(python)


def stdlib_dir(python: str) -> str:
    return subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()


# Layers the production daemon imports beyond the demo's, in load order (--breakdown).
LAYERS = (
    ("python + skimd.cli", "import skimd.cli"),
    ("+ bootstrap, config", "import skimd.bootstrap"),
    ("+ SQLCipher, SQLModel", "import sqlcipher3, sqlmodel"),
    ("+ APScheduler", "import apscheduler.schedulers.asyncio"),
    ("+ httpx", "import httpx"),
    ("+ the shared TLS context, a client",
     "from skimd.infrastructure.tls import verify_context; "
     "httpx.AsyncClient(verify=verify_context())"),
    ("+ demo broker", "import skimd.infrastructure.brokers.demo.broker"),
    ("+ IBKR broker (no cryptography)", "import skimd.infrastructure.brokers.ibkr.facade"),
    ("+ ASX news feed", "import skimd.infrastructure.news.asx_feed"),
    ("+ httpx in use (anyio on asyncio)", "import anyio._backends._asyncio, anyio.streams.tls"),
)
# Not in the daemon, for comparison: what the daemon would map if it used the keys itself.
NOT_LOADED = ("cryptography (RSA), in the key child only",
              "import cryptography.hazmat.primitives.asymmetric.rsa")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# The environment systemd gives the unit's process (its one Environment= line names the config,
# which the bench passes itself), not this shell's: a shell's SSL_CERT_FILE makes every TLS
# context load that whole CA bundle (+1.2 MB measured on a box that exports it), and a
# service has no PYTHONDONTWRITEBYTECODE, SKIMD_* or CREDENTIALS_DIRECTORY of the caller's.
SERVICE_ENV = ("PATH", "LANG", "HOME", "USER", "LOGNAME")


def base_env(tmp: Path) -> dict[str, str]:
    """:data:`SERVICE_ENV` of this shell plus the unit's own interpreter settings
    (``PYTHONOPTIMIZE=2``, read from systemd/skimd.service)."""
    keep = {k: v for k, v in os.environ.items() if k in SERVICE_ENV}
    return {**keep, **unit_python_env(), "WATCHDOG_USEC": "10000000",
            "SKIMD__PATHS__DATA_DIR": str(tmp / "data")}


def production_env(tmp: Path, keys: FakeIbkrKeys, base_url: str,
                   webhook: str) -> dict[str, str]:
    """The unit's way: every secret a file in CREDENTIALS_DIRECTORY named as the unit names
    it; the shipped config's absolute paths moved under ``tmp``."""
    creds = tmp / "credentials"
    creds.mkdir(mode=0o700)
    signature, encryption = keys.write_keys(tmp / "keys")
    values = {
        "skimd-db-passphrase": "bench passphrase, not a secret",
        "skimd-ibkr-consumer-key": keys.consumer_key,
        "skimd-ibkr-access-token": keys.access_token,
        "skimd-ibkr-access-token-secret": keys.access_token_secret_b64,
        "skimd-ibkr-dh-prime": format(keys.dh_prime, "x"),
        "skimd-ibkr-signature-key": signature.read_text(),
        "skimd-ibkr-encryption-key": encryption.read_text(),
        "skimd-discord-webhook": webhook,
    }
    for name, value in values.items():
        path = creds / name
        path.write_text(value)
        path.chmod(0o600)
    return {
        **base_env(tmp),
        "CREDENTIALS_DIRECTORY": str(creds),
        "SKIMD__IBKR__BASE_URL": base_url,
        "SKIMD__NOTIFICATIONS__JSONL_FILE": str(tmp / "data" / "alerts.jsonl"),
        "SKIMD__PATHS__RUNTIME_DIR": str(tmp / "run"),
        **({"SKIMD__MARKET__TIMEZONE": zone} if (zone := session_zone()) else {}),
    }


def session_zone(now: datetime | None = None) -> str | None:
    """A fixed-offset zone in which ``now`` is midday of a weekday (an ASX session there), so
    the ``sync`` job really runs whenever the bench is run; None at a weekend everywhere."""
    now = now or datetime.now(UTC)
    for offset in range(-12, 15):
        local = now + timedelta(hours=offset)
        if local.weekday() < 5 and 11 <= local.hour < 15:
            return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"
    return None


async def measure(name: str, env: dict[str, str], tmp: Path, steady_s: float) -> dict[str, str]:
    config = str(ROOT / CONFIGS[name])
    init = await asyncio.create_subprocess_exec(
        DAEMON_PYTHON[0], "-m", "skimd", "--config", config, "db", "init",
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    _, err = await init.communicate()
    if init.returncode != 0:
        raise SystemExit(f"{name}: db init failed: {err.decode().strip()}")
    sock_path = str(tmp / f"notify-{name}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    began = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        DAEMON_PYTHON[0], "-m", "skimd", "--config", config, "run",
        env={**env, "NOTIFY_SOCKET": sock_path},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while not (await asyncio.wait_for(loop.sock_recv(sock, 4096), 60)).startswith(
            b"READY=1"
        ):
            pass
        ready = time.perf_counter() - began
        job = await run_job(config, env, SESSION_JOB) if name == "production" else ""
        await asyncio.sleep(steady_s)  # the bench's own pacing, not logic under test
        rss = rss_mb(proc.pid)
        rust = mapped(proc.pid, RUST_BINDINGS)
        day = {}
        if name == "production":
            day["day_job"] = await run_job(config, env, DAY_JOB)
            await asyncio.sleep(steady_s)
            day["rss_day"] = f"{rss_mb(proc.pid):.1f}"
            day["pillow"] = "yes" if mapped_under(proc.pid, "/PIL/") else "no"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 60)
        sock.close()
    return {"config": name, "ready": f"{ready:.3f}", "rss": f"{rss:.1f}", "exit": str(code),
            "job": job, "rust": "yes" if rust else "no", **day}


async def run_job(config: str, env: dict[str, str], job: str) -> str:
    """Run ``job`` in the daemon now through its control socket (``skimd run-job``), so the
    measurement is taken with the broker session established; its one-line outcome."""
    proc = await asyncio.create_subprocess_exec(
        DAEMON_PYTHON[0], "-m", "skimd", "--config", config, "run-job", job,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    lines = (out or err).decode().strip().splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}"


def mapped_under(pid: int, folder: str) -> bool:
    """Whether any file under a folder named like ``folder`` is mapped into ``pid``."""
    return any(folder in line for line in Path(f"/proc/{pid}/maps").read_text().splitlines())


def mapped(pid: int, library: str) -> bool:
    """Whether ``library`` (a file name) is mapped into process ``pid``."""
    return any(line.rstrip().endswith(library)
               for line in Path(f"/proc/{pid}/maps").read_text().splitlines())


async def run(names: list[str], steady_s: float, runs: int) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for name in [n for n in names for _ in range(runs)]:
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            if name == "demo":
                rows.append(await measure(name, base_env(tmp), tmp, steady_s))
                continue
            keys = FakeIbkrKeys.generate()
            fake = FakeIbkr(keys, clock=SystemClock())
            with FakeDiscord() as discord:
                async with serve_loopback(fake) as base_url:
                    (tmp / "keys").mkdir(mode=0o700)
                    env = production_env(tmp, keys, base_url, discord.url)
                    row = await measure(name, env, tmp, steady_s)
                    row["ibkr_calls"] = str(len(fake.calls))
                    row["discord_posts"] = str(len(discord.requests))
                    rows.append(row)
    return rows


def breakdown() -> None:
    print("\nRSS after importing each layer (fresh interpreter per step):")
    done: list[str] = []
    previous = 0.0
    for label, statement in LAYERS:
        done.append(statement)
        code = "; ".join(done) + "; import os; print(open(f'/proc/{os.getpid()}/status').read())"
        out = subprocess.run(
            [DAEMON_PYTHON[0], "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout
        rss = next(int(line.split()[1]) / 1024 for line in out.splitlines()
                   if line.startswith("VmRSS:"))
        print(f"  {label:36s} {rss:6.1f} MB  (+{rss - previous:5.1f})")
        previous = rss
    label, statement = NOT_LOADED
    out = subprocess.run(
        [DAEMON_PYTHON[0], "-c", "; ".join([*done, statement, "import os; print(open(f'/proc/"
                                          "{os.getpid()}/status').read())"])],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    rss = next(int(line.split()[1]) / 1024 for line in out.splitlines()
               if line.startswith("VmRSS:"))
    print(f"  ({label}: {rss:.1f} MB, +{rss - previous:.1f} if the daemon loaded it)")
    key_child_cost()


def key_child_cost() -> None:
    """One call of the RSA key child as the daemon makes it (check both key files): wall
    time, and its own peak RSS through /usr/bin/time (a forked Python's maximum RSS would
    count the pages it shares with its parent before exec)."""
    timer = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
    with tempfile.TemporaryDirectory() as folder:
        signature, encryption = FakeIbkrKeys.generate().write_keys(Path(folder))
        request = {"v": 1, "ops": [{"op": "check", "path": str(p)}
                                   for p in (signature, encryption)]}
        began = time.perf_counter()
        done = subprocess.run(
            [*timer, *child_command()],
            input=json.dumps(request).encode(), capture_output=True, cwd=ROOT, check=True,
        )
        wall = time.perf_counter() - began
    ok = all("ok" in r for r in json.loads(done.stdout)["results"])
    peak = (f", peak RSS {int(done.stderr.split()[-1]) / 1024:.1f} MB" if timer else "")
    print(f"RSA key child, one call: {wall * 1000:.0f} ms{peak}, {'ok' if ok else 'FAILED'} "
          "(once at start-up, then one or two per live session token)")


def spread(values: list[str], digits: int) -> str:
    """``median [min-max]`` of numbers given as text."""
    numbers = [float(v) for v in values]
    if len(numbers) == 1:
        return f"{numbers[0]:.{digits}f}"
    return (f"{statistics.median(numbers):.{digits}f} "
            f"[{min(numbers):.{digits}f}-{max(numbers):.{digits}f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("demo", "production", "both"), default="both")
    parser.add_argument("--steady-s", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3, help="runs per config (median shown)")
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--python", help="the daemon's interpreter (default: .bench-venv)")
    args = parser.parse_args()
    DAEMON_PYTHON[0] = deployed_python(args.python)
    print(f"daemon interpreter: {DAEMON_PYTHON[0]}")
    names = ["demo", "production"] if args.config == "both" else [args.config]
    rows = asyncio.run(run(names, args.steady_s, max(1, args.runs)))
    print(f"{'config':12s} {'start -> READY s':>22s} {'steady RSS MB':>22s}  exit  "
          f"{'cryptography mapped':>19s}")
    for name in names:
        mine = [row for row in rows if row["config"] == name]
        print(f"{name:12s} {spread([r['ready'] for r in mine], 3):>22s} "
              f"{spread([r['rss'] for r in mine], 1):>22s}  "
              f"{','.join(sorted({r['exit'] for r in mine})):>4s}  "
              f"{','.join(sorted({r['rust'] for r in mine})):>19s}")
        for row in mine:
            if "ibkr_calls" in row:
                print(f"{'':12s} after `skimd run-job {SESSION_JOB}`: {row['job']}; "
                      f"IBKR calls at the fake: {row['ibkr_calls']}")
                print(f"{'':12s} then `skimd run-job {DAY_JOB}`: RSS "
                      f"{spread([r['rss_day'] for r in mine], 1)} MB; Pillow mapped: "
                      f"{','.join(sorted({r['pillow'] for r in mine}))}; Discord requests "
                      f"at the fake: {row['discord_posts']} ({row['day_job'][:60]}...)")
                break
    print(f"targets: READY <= 1.5 s, RSS <= 80 MB (median of {max(1, args.runs)}, [min-max])")
    if args.breakdown:
        breakdown()


if __name__ == "__main__":
    main()
