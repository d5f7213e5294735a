"""A real headless browser for tests: Debian's chromium, driven by Selenium through Debian's chromium-driver.

`ensure_installed()` installs both with apt-get when absent (as tests/slurm_cluster.py installs SLURM);
nothing is downloaded outside the package registries: Selenium is given the driver's path, so its own
driver manager never runs. `headless_chromium()` is a context manager yielding a WebDriver that keeps
the browser console's log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

APT_PACKAGES = ("chromium", "chromium-driver")
CHROMIUM = "chromium"
DRIVER = "chromedriver"
INSTALL_TIMEOUT_S = 900.0


class BrowserError(RuntimeError):
    """chromium or its driver could not be installed; the message says why."""


def missing_executables() -> list[str]:
    return [name for name in (CHROMIUM, DRIVER) if shutil.which(name) is None]


def cannot_run_reason() -> str | None:
    """Why chromium cannot be installed and started here, or None when it can."""
    if not missing_executables():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"{', '.join(missing_executables())} missing, and installing them needs root and apt-get"
    return None


def ensure_installed(timeout_s: float = INSTALL_TIMEOUT_S) -> None:
    """apt-get install chromium and chromium-driver unless both are on PATH (refreshing stale package
    lists once). Raises BrowserError with apt's output tail on failure."""
    if not missing_executables():
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES]
    result = _run(install, env, timeout_s)
    if result.returncode != 0:  # stale or absent package lists: refresh once and retry
        _run(["apt-get", "update", "-q"], env, timeout_s)
        result = _run(install, env, timeout_s)
    if result.returncode != 0 or missing_executables():
        tail = "\n".join(result.stdout.splitlines()[-30:])
        raise BrowserError(f"apt-get install {' '.join(APT_PACKAGES)} failed (exit {result.returncode}); "
                           f"still missing: {missing_executables()}\n{tail}")


def _run(cmd: list[str], env: dict, timeout_s: float) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout_s, stdin=subprocess.DEVNULL)


def versions() -> dict[str, str]:
    """The browser's and the driver's version lines, and Selenium's version (for test reports)."""
    import selenium

    found = {name: subprocess.run([name, "--version"], capture_output=True, text=True).stdout.strip()
             for name in (CHROMIUM, DRIVER)}
    return {**found, "selenium": selenium.__version__}


@contextlib.contextmanager
def headless_chromium(width: int = 1400, height: int = 1000):
    """A headless chromium WebDriver with the console log kept (`driver.get_log("browser")`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which(DRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def page_url(path: Path) -> str:
    return Path(path).resolve().as_uri()
