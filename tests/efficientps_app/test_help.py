"""``--help`` of every command: flags shown as flags, values with a value label, usage in Click's form; shell
completion switched on."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import typer

from efficientps_app.cli import app, main
from efficientps_app.commands.help import value_label


def _commands(command, path=()):
    """(path, command) for the root, every group and every command under it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def _help(path: tuple[str, ...], capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "220")  # one table row per option
    code = main([*path, "--help"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _next_word(text: str, param) -> str:
    """The word that follows a parameter's names in its help row."""
    names = r"\s+".join(re.escape(",".join(group)) for group in _name_columns(param) if group)
    match = re.search(rf"│\s*\*?\s*{names}\s+(\S+)", text)
    assert match, f"no help row for {param.opts}"
    return match.group(1)


def _name_columns(param) -> list[list[str]]:
    longs = [o for o in param.opts if o.startswith("--")]
    shorts = [o for o in param.opts if not o.startswith("--")]
    second_longs = [o for o in param.secondary_opts if o.startswith("--")]
    return [longs, shorts, second_longs, [o for o in param.secondary_opts if not o.startswith("--")]]


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) or "efficientps" for p, _ in COMMANDS])
def test_help_shows_flags_as_flags_and_values_as_values(path, command, capsys, monkeypatch):
    text = _help(path, capsys, monkeypatch)
    assert not re.search(r"<(bool|str|int|float|path|list)", text), text
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage and "<" not in usage  # SOURCE, not {source}
    ctx = command.make_context(path[-1] if path else "efficientps", ["--help"], resilient_parsing=True)
    for param in command.get_params(ctx):
        if param.param_type_name != "option" or param.hidden:
            continue
        word, label = _next_word(text, param), value_label(param)
        if param.is_flag:  # straight to the help text: no metavar
            assert label is None and word == (param.help or "").split()[0], (param.opts, word)
        else:
            assert label and word == label.split()[0], (param.opts, word, label)
            assert label.isupper() or label.startswith("[") or label == param.metavar


def test_usage_names_arguments_as_click_does(capsys, monkeypatch):
    segment = _help(("segment",), capsys, monkeypatch)
    assert re.search(r"Usage: efficientps segment \[OPTIONS\] SOURCE\.\.\.", segment)
    view = _help(("view",), capsys, monkeypatch)
    assert re.search(r"Usage: efficientps view \[OPTIONS\] \[SOURCE\]", view)


def test_show_completion_prints_a_bash_script(capsys):
    code = main(["--show-completion", "bash"])
    out, _ = capsys.readouterr()
    assert code == 0 and "_EFFICIENTPS_COMPLETE=complete_bash" in out and "complete " in out


def test_the_shell_completes_commands_and_options():
    """What bash runs on TAB: the console script with the completion variables set."""
    env = {**os.environ, "_EFFICIENTPS_COMPLETE": "complete_bash", "COMP_WORDS": "efficientps segment --save-j",
           "COMP_CWORD": "2"}
    done = subprocess.run([sys.executable, "-m", "efficientps_app"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.split() == ["--save-json"], done.stderr
    env.update(COMP_WORDS="efficientps seg", COMP_CWORD="1")
    done = subprocess.run([sys.executable, "-m", "efficientps_app"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.split() == ["segment"], done.stderr


def test_install_completion_writes_the_script_into_the_shells_start_up(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "efficientps_app", "--install-completion", "bash"], env=env,
                          capture_output=True, text=True, timeout=120)
    script = tmp_path / ".bash_completions" / "efficientps.sh"
    assert done.returncode == 0 and "_EFFICIENTPS_COMPLETE" in script.read_text(), done.stderr
    assert str(script) in (tmp_path / ".bashrc").read_text()
