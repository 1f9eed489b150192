"""Packaging cannot rot: build the sdist and the wheel, check them, install the wheel into a
fresh virtualenv and run the installed console scripts (``tox -e package``).

Usage: python .ci/check_package.py WORKDIR
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEALTH_GUARD = 60.0  # seconds: only a mock that never comes up gets near this


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("$", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], check=True, text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def main(workdir: Path) -> int:
    dist = workdir / "dist"
    run(sys.executable, "-m", "build", "--outdir", dist, ROOT)
    built = sorted(glob.glob(str(dist / "*")))
    run(sys.executable, "-m", "twine", "check", "--strict", *built)
    wheel = next(Path(p) for p in built if p.endswith(".whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), "no LICENSE in the wheel"

    venv = workdir / "venv"
    run(sys.executable, "-m", "venv", "--clear", venv)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    run(bin_dir / "python", "-m", "pip", "install", "--quiet", wheel)

    out = run(bin_dir / "letta-contract", "list-checks", capture_output=True).stdout
    assert "status_code_conformance" in out, out
    run(bin_dir / "letta-contract", "--help", capture_output=True)
    run(bin_dir / "letta-mock", "--help", capture_output=True)
    spec = run(bin_dir / "letta-contract", "openapi", capture_output=True).stdout
    assert json.loads(spec)["openapi"].startswith("3.1"), spec[:200]

    # The installed mock serves: started on a free port, it answers health.
    mock = subprocess.Popen(
        [str(bin_dir / "letta-mock"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert mock.stdout is not None
        line = mock.stdout.readline()
        print(line.rstrip(), flush=True)
        url = json.loads(line)["url"]  # the one line it prints once it listens
        with urllib.request.urlopen(f"{url.rstrip('/')}/v1/health/", timeout=HEALTH_GUARD) as r:
            assert r.status == 200, r.status
    finally:
        mock.terminate()
        mock.wait(timeout=HEALTH_GUARD)
    # Granian, LMDB and redis-py are extras: without them the command says how to get them.
    refusals = (
        (["--server", "granian"], "fast"),
        (["--store", "lmdb"], "lmdb"),
        (["--store", "redis", "--redis-url", "redis://127.0.0.1:1/0"], "redis"),
    )
    for argv, extra in refusals:
        refused = subprocess.run(
            [str(bin_dir / "letta-mock"), *argv, "--lmdb-path", str(workdir / "x.lmdb")],
            capture_output=True,
            text=True,
            timeout=HEALTH_GUARD,
        )
        assert refused.returncode == 2, refused.stderr
        assert f"[{extra}] extra" in refused.stderr, refused.stderr
    # With the extras, Granian serves over LMDB.
    run(bin_dir / "python", "-m", "pip", "install", "--quiet", f"{wheel}[all]")
    fast = ["--port", "0", "--server", "granian", "--store", "lmdb", "--lmdb-path"]
    granian = subprocess.Popen(
        [str(bin_dir / "letta-mock"), *fast, str(workdir / "runs.lmdb")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert granian.stdout is not None
        url = json.loads(granian.stdout.readline())["url"]
        with urllib.request.urlopen(f"{url.rstrip('/')}/v1/health/", timeout=HEALTH_GUARD) as r:
            assert r.status == 200, r.status
    finally:
        granian.terminate()
        granian.wait(timeout=HEALTH_GUARD)
    third_party_project(workdir / "app", bin_dir / "python")
    print("the package builds, checks, installs and runs", flush=True)
    return 0


# A user's project whose own top-level modules have the names of the kit's folders: the kit
# installs under letta_contract_kit, so they keep working, with both plugins loaded.
APP_FILES = {
    "schemas.py": "USER = 'schemas of the app'\n",
    "fixtures.py": "USER = 'fixtures of the app'\n",
    "mockserver.py": "USER = 'mockserver of the app'\n",
    "contract_tests.py": "USER = 'contract_tests of the app'\n",
    "test_app.py": """
import contract_tests
import fixtures
import mockserver
import pytest
import schemas
from letta_client import Letta


def test_the_apps_own_modules_are_its_own() -> None:
    assert schemas.USER == "schemas of the app" and fixtures.USER == "fixtures of the app"
    assert mockserver.USER == "mockserver of the app"
    assert contract_tests.USER == "contract_tests of the app"


def test_both_plugins_are_loaded(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("letta_mock")
    assert pytestconfig.pluginmanager.has_plugin("letta_contract")


def test_the_sdk_runs_a_message_through_the_fixture(letta_mock) -> None:
    client = Letta(base_url=letta_mock.base_url, api_key="k", max_retries=0)
    run = client.agents.messages.create_async(letta_mock.agent_id, input="hello")
    for _ in range(20):
        run = client.runs.retrieve(run.id)
        if run.status in ("completed", "failed", "cancelled"):
            break
    assert run.status == "completed"
""",
}


def third_party_project(app: Path, python: Path) -> None:
    """Install the official SDK beside the kit and run the project's tests there."""
    app.mkdir(parents=True, exist_ok=True)
    for name, text in APP_FILES.items():
        (app / name).write_text(text, "utf-8")
    run(python, "-m", "pip", "install", "--quiet", "letta-client>=1.12,<1.13")
    run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=app)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
