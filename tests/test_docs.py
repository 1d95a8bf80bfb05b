"""The documentation (``docs/``), the README and the changelog.

The site is built once here, with Sphinx's warnings as errors (as ``make docs`` does;
about 5-10 s), and the built inventory (``objects.inv``) is held against the public
names: every name in ``zkservices.__all__``, ``zkservices.aio.__all__`` and
``zkservices.testing.__all__`` has its entry.  The pages' examples are doctests run
against a real server by pytest itself (``docs/conftest.py``), not here.
"""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
import zlib
from pathlib import Path

import zkservices
import zkservices.aio
import zkservices.testing

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TIMEOUT = 300.0  # a guard against a hang, not the expected time


def _inventory(path: Path) -> dict[str, tuple[str, str]]:
    """``objects.inv`` (Sphinx inventory version 2): name -> (domain:role, uri)."""
    raw = path.read_bytes()
    header_end = 0
    for _ in range(4):  # four header lines, then the zlib-compressed entries
        header_end = raw.index(b"\n", header_end) + 1
    assert raw.startswith(b"# Sphinx inventory version 2\n"), raw[:80]
    entries = {}
    for line in zlib.decompress(raw[header_end:]).decode().splitlines():
        match = re.match(r"(.+?)\s+(\S+:\S+)\s+(-?\d+)\s+(\S*)\s+(.*)$", line)
        assert match, line
        entries[match.group(1)] = (match.group(2), match.group(4))
    return entries


def _text(html: str) -> str:
    """What a reader sees of a page: the markup's text, without tags and attributes."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", "", html))


def _build(tmp_path: Path) -> Path:
    """The site, built with warnings as errors (a warning fails the build)."""
    out = tmp_path / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(out.parent / "doctrees"),
         str(DOCS), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"sphinx-build -W failed:\n{result.stdout}\n{result.stderr}"
    return out


def test_the_site_builds_with_warnings_as_errors(tmp_path):
    """One build (about 5-10 s), then what it must hold: one test, so that the site is
    built once also when the suite runs on several workers."""
    site = _build(tmp_path)
    _check_api_reference(site)
    _check_no_private_module(site)
    _check_cli_reference(site)
    _check_story_included(site)
    _check_includes(site)


def _check_api_reference(site: Path) -> None:
    inventory = _inventory(site / "objects.inv")
    expected = {f"zkservices.{name}" for name in zkservices.__all__}
    expected |= {f"zkservices.aio.{name}" for name in zkservices.aio.__all__}
    expected |= {f"zkservices.testing.{name}" for name in zkservices.testing.__all__}
    missing = sorted(name for name in expected if name not in inventory)
    assert not missing, f"public names without an entry in the API reference: {missing}"
    # each on a page of the API reference, not only mentioned somewhere
    elsewhere = sorted(name for name in expected if not inventory[name][1].startswith("api/"))
    assert not elsewhere, elsewhere
    # the methods of the main classes are documented with them
    for name in ("zkservices.ZooKeeper.register_server", "zkservices.ZooKeeper.import_tree",
                 "zkservices.aio.AsyncZooKeeper.children", "zkservices.testing.ZooKeeperServer.restart"):
        assert name in inventory, name


def _check_no_private_module(site: Path) -> None:
    for page in sorted((site / "api").glob("*.html")):
        text = _text(page.read_text())
        private = sorted(set(re.findall(r"zkservices\._[a-z]\w*", text)))
        assert not private, f"{page.name} shows private modules: {private}"


def _check_cli_reference(site: Path) -> None:
    from zkservices.cli import make_parser

    parser = make_parser()
    text = _text((site / "cli.html").read_text())
    subparsers = next(action for action in parser._actions if action.choices and action.dest == "command")
    assert len(subparsers.choices) >= 10
    for name, subparser in subparsers.choices.items():
        assert f"zkservices {name}" in text, f"the CLI reference lacks the command {name}"
        for action in subparser._actions:
            for flag in action.option_strings:
                if action.help != "==SUPPRESS==" and flag.startswith("--") and flag != "--help":
                    assert flag in text, f"the CLI reference lacks {name} {flag}"


def _check_story_included(site: Path) -> None:
    story = (ROOT / "doctests" / "story.rst").read_text()
    quickstart = (DOCS / "quickstart.rst").read_text()
    assert ".. include:: ../doctests/story.rst" in quickstart
    assert ">>>" not in quickstart
    assert "Instantiating a ZooKeeper helper" in _text((site / "quickstart.html").read_text())
    # no other copy of the story: its examples appear nowhere else in the docs or the README
    marker = "new_session = expire_session(zk)"
    assert marker in story
    copies = [path for path in [ROOT / "README.rst", *DOCS.rglob("*.rst")] if marker in path.read_text()]
    assert not copies, f"copies of the story: {copies}"


def _check_includes(site: Path) -> None:
    assert ".. include:: ../ARCHITECTURE.rst" in (DOCS / "architecture.rst").read_text()
    assert ".. include:: ../CHANGES.rst" in (DOCS / "changelog.rst").read_text()
    assert "Unreleased" in _text((site / "changelog.html").read_text())


def test_the_test_command_runs_the_docs_examples():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert "docs" in config["tool:pytest"]["testpaths"].split()
    assert "--doctest-glob=*.rst" in config["tool:pytest"]["addopts"]
    pages = [path for path in DOCS.rglob("*.rst") if "_build" not in path.parts and ">>> " in path.read_text()]
    assert len(pages) >= 5, pages
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: .*\bdocs\b", makefile, re.M), "make test does not build the docs"
    assert re.search(r"^docs: .*\n\t.*sphinx -W ", makefile, re.M)


def test_the_readme_is_a_front_page():
    readme = (ROOT / "README.rst").read_text()
    assert len(readme.splitlines()) < 200
    assert "make demo" in readme and "make test" in readme
    assert "make docs" in readme and "docs/_build/html" in readme
    assert ">>> " in readme  # the short example, run as a doctest by the test command


CHANGES = ROOT / "CHANGES.rst"


def test_the_changelog_has_an_unreleased_section_with_its_subsections():
    lines = CHANGES.read_text().splitlines()
    headings = [lines[i] for i in range(len(lines) - 1)
                if lines[i].strip() and re.fullmatch(r"([=~^-])\1+", lines[i + 1])
                and len(lines[i + 1]) >= len(lines[i])]
    assert headings[:2] == ["Changes", "Unreleased (0.1.0)"], headings
    subsections = [h for h in headings if h in ("Added", "Changed", "Fixed", "Deprecated")]
    assert subsections == ["Added", "Changed", "Fixed", "Deprecated"], headings


def test_the_changelog_names_no_private_module():
    text = CHANGES.read_text()
    private = sorted(set(re.findall(r"\S*_[a-z]+/\S*", text)) | set(re.findall(r"zkservices\._\w*", text)))
    assert not private, f"CHANGES.rst names private modules or folders: {private}"
