"""The command line: every command is listed, has --help, and --help imports nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fer_core.cli import command_names

COMMANDS = command_names()


def test_the_core_commands_are_registered() -> None:
    assert {"train", "evaluate", "list-models", "ship"} <= set(COMMANDS)


@pytest.mark.subprocess
def test_top_level_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fer_core", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in COMMANDS:
        assert name in out


@pytest.mark.subprocess
@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help_and_help_does_not_import_torch_or_cv2(name: str) -> None:
    code = (
        "import sys\n"
        "from fer_core.cli import main\n"
        "try:\n"
        f"    main([{name!r}, '--help'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "heavy = sorted(m for m in ('torch', 'cv2', 'streamlit', 'av') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "usage:" in out
    assert "HEAVY=\n" in out, out.splitlines()[-1]


@pytest.mark.subprocess
def test_user_errors_exit_2_with_one_line_and_no_traceback(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fer_core", "evaluate", "--weights", str(tmp_path / "none.pt"),
         "--data", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "no model file or shipped model" in proc.stderr
