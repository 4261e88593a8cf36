"""``skimd web`` in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium through the system driver) against a ``skimd web``
process beside a running demo daemon, after a demo day has filled the journal.

The trader logs in, opens a round trip and its chart, reviews it (``skimd journal review
--json`` then shows the review stored), opens a plan written with ``skimd journal plan add``
and the mistakes, looks at the statistics, and locks the kill switch
through the page (with its confirmation step); ``skimd status --json`` then shows it
locked, from the daemon; unlocking it from the command line then shows its alert on the open
page, pushed by the alert stream. Screenshots go to ``$SKIMD_TEST_SCREENSHOTS`` when
set (``docs/web/`` holds the committed ones), else into the test's tmp dir.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.e2e.demo_runs import ROOT, demo_config, env, run_demo

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401
except ImportError:  # pragma: no cover - the test extra installs it
    HAVE_SELENIUM = False
else:
    HAVE_SELENIUM = True

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None or not HAVE_SELENIUM,
        reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium "
        "chromium-driver; .ci/run installs them) and selenium (the test extra)",
    ),
]

PASSWORD = "a long web password"
WAIT_S = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def skimd(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skimd", "--config", str(config), *args],
        env=env(), cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120,
    )


def start(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "skimd", "--config", str(config), *args],
        env=env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_for(lines: IO[str], pattern: str) -> str:
    for line in lines:
        if re.search(pattern, line):
            return line
    raise AssertionError(f"the process ended without a line matching {pattern!r}")


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=60)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A journal with a demo day in it, a running daemon on it and ``skimd web`` beside:
    the config and the web view's base URL."""
    config = demo_config(tmp_path / "demo")
    port = free_port()
    config.write_text(config.read_text() + f"\n[web]\nport = {port}\n", encoding="utf-8")
    day = run_demo(config)
    assert day.returncode == 0, day.stderr[-2000:]
    password = skimd(config, "web", "set-password", stdin=PASSWORD + "\n")
    assert password.returncode == 0, password.stderr
    daemon = start(config, "run")
    web = None
    try:
        assert daemon.stdout is not None
        wait_for(daemon.stdout, r"daemon_started")  # the control socket listens before
        web = start(config, "web")
        assert web.stdout is not None
        wait_for(web.stdout, rf"skimd web on http://127\.0\.0\.1:{port}/")
        yield config, f"http://127.0.0.1:{port}"
    finally:
        if web is not None:
            stop(web)
        stop(daemon)


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1200,900", "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    driver.implicitly_wait(WAIT_S)  # elements looked up wait for the page, up to WAIT_S
    try:
        yield driver
    finally:
        driver.quit()


def shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SKIMD_TEST_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def image_loaded(driver: object, element: object) -> bool:
    width = driver.execute_script(  # type: ignore[attr-defined]
        "return arguments[0].complete && arguments[0].naturalWidth;", element
    )
    return bool(width)


def test_log_in_open_a_round_trip_and_lock_the_kill_switch_in_chromium(
    desk: tuple[Path, str], browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    config, base = desk
    driver = browser
    shots = shots_dir(tmp_path)
    find = driver.find_element  # type: ignore[attr-defined]
    until = WebDriverWait(driver, WAIT_S).until

    driver.get(base + "/")  # type: ignore[attr-defined]
    until(ec.url_contains("/login"))
    driver.save_screenshot(str(shots / "login.png"))  # type: ignore[attr-defined]
    find(By.ID, "password").send_keys("not the password")
    find(By.ID, "login").click()
    assert "Wrong password" in find(By.ID, "error").text
    find(By.ID, "password").send_keys(PASSWORD)
    find(By.ID, "login").click()
    assert "running" in find(By.ID, "daemon").text  # today, read from the daemon
    assert "unlocked" in find(By.ID, "guard-state").text
    driver.save_screenshot(str(shots / "today.png"))  # type: ignore[attr-defined]

    find(By.LINK_TEXT, "Journal").click()
    links = driver.find_elements(By.CSS_SELECTOR, "a.trip-link")  # type: ignore[attr-defined]
    assert len(links) >= 3
    driver.save_screenshot(str(shots / "journal.png"))  # type: ignore[attr-defined]
    driver.get(base + "/journal/1")  # type: ignore[attr-defined]
    assert find(By.ID, "trip-title").text.startswith("Round trip 1:")
    chart = find(By.CSS_SELECTOR, "img.chart")
    until(lambda d: image_loaded(d, chart))
    driver.save_screenshot(str(shots / "round-trip.png"))  # type: ignore[attr-defined]

    from selenium.webdriver.support.ui import Select

    Select(find(By.ID, "setup")).select_by_value("4")
    Select(find(By.ID, "execution")).select_by_value("3")
    Select(find(By.ID, "followed_plan")).select_by_value("yes")
    find(By.ID, "emotion").send_keys("calm")
    find(By.ID, "tags").send_keys("gap, news")
    find(By.ID, "lessons").send_keys("Waited for the opening range.")
    find(By.ID, "save-review").click()
    assert "Review of round trip 1 saved." in find(By.ID, "flash").text
    assert "gap, news" in find(By.ID, "stored-tags").text
    driver.execute_script(  # type: ignore[attr-defined]
        "arguments[0].scrollIntoView();", find(By.ID, "review")
    )
    driver.save_screenshot(str(shots / "reviewed.png"))  # type: ignore[attr-defined]
    stored = skimd(config, "journal", "review", "1", "--json")
    assert stored.returncode == 0, stored.stderr
    assert {k: v for k, v in json.loads(stored.stdout).items() if k in (
        "setup_quality", "execution_quality", "followed_plan", "emotional_state",
        "lessons_learned", "tags")} == {
        "setup_quality": 4, "execution_quality": 3, "followed_plan": True,
        "emotional_state": "calm", "lessons_learned": "Waited for the opening range.",
        "tags": ["gap", "news"]}

    written = skimd(config, "journal", "plan", "add", "VPL", "--entry", "1.21", "--stop",
                    "1.10", "--strategy", "opening range", "--json")
    assert written.returncode == 0, written.stderr
    plan_id = json.loads(written.stdout)["id"]
    find(By.LINK_TEXT, "Plans").click()
    find(By.CSS_SELECTOR, f'a.plan-link[href="/plans/{plan_id}"]').click()
    assert find(By.ID, "plan-title").text.startswith(f"Plan {plan_id}: long VPL")
    driver.save_screenshot(str(shots / "plan.png"))  # type: ignore[attr-defined]
    find(By.LINK_TEXT, "Mistakes").click()
    assert "mistake(s)" in find(By.ID, "count").text
    driver.save_screenshot(str(shots / "mistakes.png"))  # type: ignore[attr-defined]

    find(By.LINK_TEXT, "Stats").click()
    equity = find(By.ID, "equity")
    until(lambda d: image_loaded(d, equity))
    driver.save_screenshot(str(shots / "stats.png"))  # type: ignore[attr-defined]

    find(By.LINK_TEXT, "Today").click()
    find(By.ID, "lock").click()
    assert "Lock the kill switch" in find(By.ID, "what").text
    driver.save_screenshot(str(shots / "confirm-lock.png"))  # type: ignore[attr-defined]
    find(By.ID, "reason").send_keys("locked from the browser")
    find(By.ID, "confirm").click()
    assert "kill switch LOCKED by the daemon" in find(By.ID, "flash").text
    assert "LOCKED" in find(By.ID, "guard-state").text
    driver.save_screenshot(str(shots / "locked.png"))  # type: ignore[attr-defined]

    status = skimd(config, "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["via"] == "daemon"
    assert report["guard"]["locked"] is True
    assert report["guard"]["reason"] == "locked from the browser"

    # the alert stream: an unlock from the command line reaches the open Today page, pushed
    unlocked = skimd(config, "guard", "unlock")
    assert unlocked.returncode == 0, unlocked.stderr
    pushed = find(By.CSS_SELECTOR, "#alerts tr.pushed")  # waits for it, up to WAIT_S
    assert pushed.text and find(By.ID, "stale").is_displayed()
    driver.execute_script(  # type: ignore[attr-defined]
        "arguments[0].scrollIntoView();", find(By.ID, "stale")
    )
    driver.save_screenshot(str(shots / "alert-pushed.png"))  # type: ignore[attr-defined]
