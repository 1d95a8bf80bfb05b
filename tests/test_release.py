"""A release that installs: ``python -m build`` makes an sdist and a wheel that pass
``twine check --strict``; the wheel, installed into a fresh virtual environment with
real pip, imports, answers ``zkservices --version`` and registers a server on a real
ZooKeeper server.

Needs a ZooKeeper server (the plugin's fixtures) and the package index (the isolated
builds fetch setuptools, pip fetches kazoo, PyYAML and pytest; pip's cache makes
later runs fast).  Nothing is built in the source tree: the builds run on a copy of
it in ``tmp_path``.  About 30-60 s on a busy 2-core machine."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import zkservices

ROOT = Path(__file__).resolve().parents[1]
#: Top-level names of the source tree that are not source (kept out of the copy built from).
NOT_SOURCE = {"build", "dist", "__pycache__"}
#: Folders of the source tree the sdist carries whole, besides the package and the plugin.
SDIST_FOLDERS = ("zkservices", "pytest_zkservices", "tests", "doctests", "docs", "bench", "scripts")
SDIST_FILES = {"README.rst", "CHANGES.rst", "ARCHITECTURE.rst", "Makefile", "conftest.py",
               "setup.cfg", "pyproject.toml", "MANIFEST.in"}
PACKAGES = ("zkservices", "pytest_zkservices")
TIMEOUT = 300.0  # per command: a guard against a hang, not the expected time


def _ignore(folder: str, names: list[str]) -> set[str]:
    ignored = {name for name in names if name == "__pycache__" or name.endswith((".pyc", ".pyo"))}
    if Path(folder).resolve() == ROOT:
        ignored |= {name for name in names
                    if name.startswith(".") or name in NOT_SOURCE or name.endswith(".egg-info")}
    if Path(folder).resolve() == ROOT / "docs":
        ignored |= {"_build"}  # the built site (make docs), not source
    return ignored


def _files(root: Path, folders: tuple[str, ...]) -> set[str]:
    """The files under ``root``'s ``folders``, as ``/``-separated relative paths."""
    return {path.relative_to(root).as_posix()
            for folder in folders for path in (root / folder).rglob("*") if path.is_file()}


def _env() -> dict[str, str]:
    """The environment without what would let a child see the source tree or this venv."""
    env = {name: value for name, value in os.environ.items()
           if name not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _run(*args: str | Path, cwd: Path) -> str:
    result = subprocess.run([str(arg) for arg in args], cwd=cwd, env=_env(), capture_output=True,
                            text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _build(source: Path, outdir: Path, *options: str) -> set[str]:
    """Build with ``options``; the names of the files made."""
    _run(sys.executable, "-m", "build", *options, "--outdir", outdir, source, cwd=source.parent)
    return set(os.listdir(outdir))


def _wheel_contents(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _check_sdist(sdist: Path, source: Path) -> None:
    prefix = f"zkservices-{zkservices.__version__}/"
    with tarfile.open(sdist) as archive:
        names = {member.name[len(prefix):] for member in archive.getmembers() if member.isfile()}
    expected = _files(source, SDIST_FOLDERS) | SDIST_FILES
    assert not expected - names, f"missing from the sdist: {sorted(expected - names)}"
    extra = {name for name in names - expected if name != "PKG-INFO" and not name.startswith("zkservices.egg-info/")}
    assert not extra, f"in the sdist but not in the source: {sorted(extra)}"
    for name in ("zkservices/py.typed", "pytest_zkservices/py.typed", "zkservices/examples/haproxy-check.cfg"):
        assert name in names


def _check_wheel(contents: dict[str, bytes], source: Path) -> None:
    info = f"zkservices-{zkservices.__version__}.dist-info/"
    assert {name for name in contents if not name.startswith(info)} == _files(source, PACKAGES)
    entry_points = configparser.ConfigParser()
    entry_points.read_string(contents[info + "entry_points.txt"].decode())
    assert dict(entry_points["console_scripts"]) == {"zkservices": "zkservices.cli:main"}
    assert dict(entry_points["pytest11"]) == {"zkservices": "pytest_zkservices.plugin"}


#: Run by the venv's interpreter: what it imported, and from where.
INSTALLED = """
import importlib.metadata, json, zkservices, pytest_zkservices.plugin
print(json.dumps({
    "file": zkservices.__file__,
    "plugin": pytest_zkservices.plugin.__file__,
    "version": zkservices.__version__,
    "pytest11": [ep.value for ep in importlib.metadata.entry_points(group="pytest11", name="zkservices")],
}))
"""


@pytest.mark.zookeeper
def test_the_wheel_installs_into_a_fresh_venv_and_registers(tmp_path, zk_connection_string, zk_client):
    source, before = tmp_path / "source", set(os.listdir(ROOT))
    shutil.copytree(ROOT, source, ignore=_ignore)

    # sdist, and the wheel build makes from the unpacked sdist; then a wheel straight from the tree
    sdist_name = f"zkservices-{zkservices.__version__}.tar.gz"
    wheel_name = f"zkservices-{zkservices.__version__}-py3-none-any.whl"
    assert _build(source, tmp_path / "dist") == {sdist_name, wheel_name}
    assert _build(source, tmp_path / "direct", "--wheel") == {wheel_name}
    sdist, wheel, direct = tmp_path / "dist" / sdist_name, tmp_path / "dist" / wheel_name, tmp_path / "direct" / wheel_name
    assert set(os.listdir(ROOT)) == before, "the builds left something in the source tree"
    _run(sys.executable, "-m", "twine", "check", "--strict", sdist, wheel, cwd=tmp_path)
    _check_sdist(sdist, source)
    contents = _wheel_contents(wheel)
    _check_wheel(contents, source)
    assert contents == _wheel_contents(direct), "the sdist's wheel differs from the tree's"

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python, script = venv / "bin" / "python", venv / "bin" / "zkservices"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel, cwd=tmp_path)

    _run(python, "-c", "import zkservices", cwd=tmp_path)
    installed = json.loads(_run(python, "-c", INSTALLED, cwd=tmp_path))
    site_packages = venv.resolve() / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    assert Path(installed["file"]).resolve() == site_packages / "zkservices" / "__init__.py"
    assert Path(installed["plugin"]).resolve() == site_packages / "pytest_zkservices" / "plugin.py"
    assert installed["version"] == zkservices.__version__
    assert installed["pytest11"] == ["pytest_zkservices.plugin"]
    assert _run(script, "--version", cwd=tmp_path).strip() == f"zkservices {zkservices.__version__}"

    # the installed console script keeps a server registered until SIGTERM
    register = subprocess.Popen([str(script), "-z", zk_connection_string, "register", "/svc", "10.0.0.1:80", "weight=2"],
                                cwd=tmp_path, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        line = register.stdout.readline().strip()
        assert line == "registered /svc/10.0.0.1:80 (healthy: no health check)", line
        data, _ = zk_client.get("/svc/10.0.0.1:80")
        assert json.loads(data)["weight"] == 2
        register.send_signal(signal.SIGTERM)
        stdout, stderr = register.communicate(timeout=TIMEOUT)
    finally:
        if register.poll() is None:
            register.kill()
            register.wait()
    assert register.returncode == 0, stderr
    assert stdout.strip() == "unregistered /svc/10.0.0.1:80 (received SIGTERM)"
    assert not zk_client.exists("/svc/10.0.0.1:80")
