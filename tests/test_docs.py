"""The README and docs/ stand alone in a clone (issue 14, items 10 and 11): no reference to
files outside the repository, every relative link resolves, and what the README says about
the long-running local AWS is what the CLI does."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.postgres import free_port
from tests.support.templates import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# The design notes beside the repository in the developers' workspace, absent from a clone
# (spelled in two parts so this file does not match itself).
OUTSIDE = "/".join(("..", "shared"))
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    binary = (".png", ".zip", ".svg", ".html")
    return [ROOT / name for name in listed if name and not name.endswith(binary)]


def test_nothing_refers_outside_the_repository() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _tracked_text_files()
        if path.is_file() and OUTSIDE in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []


def test_architecture_doc_is_linked_and_covers_its_topics() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/architecture.md)" in readme
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    headings = re.findall(r"^#+ (.+)$", doc, re.MULTILINE)
    for topic in ("The templates", "Rollout plan", "Failover model", "Test strategy"):
        assert topic in headings, topic


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_relative_links_resolve(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    targets = [m.group(1) for m in LINK.finditer(text) if "://" not in m.group(1)]
    assert [t for t in targets if not (doc.parent / t).exists()] == []
    anchors = [m.group(1) + m.group(2) for m in LINK.finditer(text) if m.group(2)]
    for link in anchors:
        path, anchor = link.split("#", 1)
        target = (doc.parent / path).read_text(encoding="utf-8")
        slugs = {
            re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", target, re.MULTILINE)
        }
        assert anchor in slugs, link


def _readme_credentials() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    exported = re.search(r"export (AWS_ACCESS_KEY_ID=\S+ AWS_SECRET_ACCESS_KEY=\S+)", readme)
    assert exported, "the README no longer says which credentials to export for local-aws"
    return dict(pair.split("=", 1) for pair in exported.group(1).split())


@pytest.mark.slow
def test_local_aws_with_endpoint_url_needs_the_exported_credentials(tmp_path: Path) -> None:
    port = free_port()
    cli = [sys.executable, "-c", "from trading_dr.cli import main; main()"]
    bare = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    bare["HOME"] = str(tmp_path)  # no ~/.aws either
    server = subprocess.Popen(
        [*cli, "local-aws", "--port", str(port)],
        env=bare,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline() + server.stdout.readline()
        assert f"--endpoint-url http://127.0.0.1:{port}" in banner, banner
        url = f"http://127.0.0.1:{port}"
        status = [*cli, "status", "--endpoint-url", url]
        without = subprocess.run(status, env=bare, capture_output=True, text=True, check=False)
        assert without.returncode == 2
        assert without.stderr.startswith("error: no usable AWS credentials"), without.stderr
        exported = {**bare, **_readme_credentials()}
        deadline = time.monotonic() + 30
        while True:
            with_credentials = subprocess.run(
                status, env=exported, capture_output=True, text=True, check=False
            )
            if with_credentials.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert with_credentials.returncode == 0, with_credentials.stderr
        assert "trading-prod-primary" in with_credentials.stdout
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)
