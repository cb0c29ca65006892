"""The mini-program's JavaScript (miniprogram/) has its own unit tests against a fake `wx`,
run with Node's built-in runner (`node --test`, no npm packages). `make test` and CI run them
through here; CI fails, rather than skips, without Node."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_mini_program_unit_tests_pass_under_node():
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("node is needed for the mini-program's tests")
        pytest.skip("node is not installed")
    run = subprocess.run([node, "--test", "miniprogram/test/"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout


def test_the_mini_program_declares_its_one_page():
    import json
    app = json.loads((ROOT / "miniprogram" / "app.json").read_text(encoding="utf-8"))
    for page in app["pages"]:
        for ext in ("js", "json", "wxml", "wxss"):
            assert (ROOT / "miniprogram" / f"{page}.{ext}").is_file(), f"{page}.{ext}"
    from liveloop.integrations.wechat.miniprogram import PAGE
    assert PAGE in app["pages"]  # the page the URL Links open
