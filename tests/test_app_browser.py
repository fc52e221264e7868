"""`toonforge app` in a real browser: Debian's chromium driven by Playwright.

Starts the app with the real CLI on a free loopback port, uploads a real face photo, picks a
style, presses the button and checks the image that comes back; then uploads a bad file and
checks the error message shows. Skips when chromium, Playwright or Gradio is missing, unless
TOONFORGE_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from conftest import shared_data

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
STARTUP_S = 180  # the server imports torch, Gradio and dlib on a busy 2-core machine
STYLIZE_MS = 120_000
REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _need(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("TOONFORGE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (TOONFORGE_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_url(tmp_path):
    """The app served by `python -m toonforge.cli app` on a free port; always stopped afterwards."""
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1")
    proc = subprocess.Popen([sys.executable, "-m", "toonforge.cli", "app", "--host", "127.0.0.1", "--port",
                             str(port), "--concurrency", "1"], stdout=log, stderr=subprocess.STDOUT, env=env,
                            cwd=REPO)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited with {proc.returncode}:\n{(tmp_path / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not answer within {STARTUP_S} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def page():
    _need(CHROMIUM.exists(), f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "needs the Python playwright package (pip install playwright; no browser download)")
    try:
        import gradio  # noqa: F401
    except ImportError:
        _need(False, 'needs Gradio (pip install "toonforge[app]")')
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 1000})
        finally:
            browser.close()


def _open(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.wait_for_selector("#run-image", timeout=60_000)


def test_stylize_a_photo_and_a_bad_file_in_chromium(page, app_url, tmp_path):
    photo = shared_data("faces/scut") / "AF1554.jpg"
    if not photo.is_file():
        pytest.skip(f"needs {photo}")
    size = Image.open(photo).size  # full-image mode keeps the input's size (350×350)

    _open(page, app_url)
    page.locator("#input-image input[type=file]").set_input_files(str(photo))
    page.wait_for_selector("#input-image img", timeout=30_000)  # the upload has arrived
    page.locator("#style input[role=combobox]").click()
    page.locator("[role=option]", has_text="classic").first.click()
    assert page.locator("#style input[role=combobox]").input_value() == "classic"
    page.locator("#run-image").click()
    img = page.wait_for_selector("#output-image img[src]", timeout=STYLIZE_MS)
    src = img.get_attribute("src")
    reply = page.request.get(src if src.startswith("http") else app_url.rstrip("/") + "/" + src.lstrip("/"))
    assert reply.ok, reply.status
    out = Image.open(io.BytesIO(reply.body()))
    out.load()
    assert out.size == size
    page.wait_for_function("document.querySelector('#status').innerText.includes('Done')", timeout=30_000)
    shot = tmp_path / "app-screenshot.png"
    page.screenshot(path=str(shot), full_page=True)
    assert Image.open(shot).size[0] > 0
    if os.environ.get("TOONFORGE_SAVE_SCREENSHOT"):
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, REPO / "docs" / "app-screenshot.png")

    bad = tmp_path / "photo.jpg"
    bad.write_text("this is text, not a photo\n")
    _open(page, app_url)  # a fresh page: an empty image input
    page.locator("#input-image input[type=file]").set_input_files(str(bad))
    page.wait_for_selector("#input-image img", state="attached", timeout=30_000)
    page.locator("#run-image").click()
    message = page.get_by_text("cannot read photo.jpg: not an image")
    message.first.wait_for(state="visible", timeout=STYLIZE_MS)
    assert page.locator("#output-image img[src]").count() == 0
    page.wait_for_timeout(500)  # let the message finish sliding in
    page.screenshot(path=str(tmp_path / "app-error.png"))
