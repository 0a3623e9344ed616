"""A real web process and gpu worker (as the Procfile starts them) on the test database, and headless
Chromium from the distribution's packages driving the console; a failed test leaves a screenshot under
.data/screenshots/."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.support.processes import ROOT, end, procfile_process

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / ".data" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item, so the driver fixture knows whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Procfile's web process on a free port; its base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("web") / "web.log"
    proc = procfile_process("web", log, f"api.port={port}")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the web process did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    yield url
    end(proc, signal.SIGTERM)


@pytest.fixture(scope="module")
def gpu_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The Procfile's gpu worker (reindex and fine-tuning tasks), for this module's tests only: other
    modules run their workers in-process and must not have their jobs taken."""
    log = tmp_path_factory.mktemp("gpu") / "gpu.log"
    proc = procfile_process("gpu", log)
    yield
    end(proc, signal.SIGTERM)


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[webdriver.Chrome]:
    """Headless Chromium through the distribution's chromedriver (nothing is downloaded)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("install the distribution's chromium and chromium-driver (make venv does)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        call = getattr(request.node, "report_call", None)
        if call is None or call.failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(SCREENSHOTS / f"{request.node.name}.png"))
        driver.quit()
