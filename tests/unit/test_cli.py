"""The command line: every command has --help, failures exit non-zero with one line."""

import typer.main

from puhui.cli.main import app, run


def _command_paths(command, prefix=()):
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_paths(sub, (*prefix, name))


def test_every_command_has_help(capsys):
    paths = list(_command_paths(typer.main.get_command(app)))
    assert len(paths) > 8
    for path in paths:
        assert run([*path, "--help"]) == 0, path
        out = capsys.readouterr().out
        assert "Usage" in out, path


def test_version_prints_and_exits_zero(capsys):
    assert run(["--version"]) == 0
    assert "puhui" in capsys.readouterr().out


def test_a_puhui_error_exits_one_with_a_single_line_reason(capsys):
    assert run(["schema", "show", "no_such_table"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown table 'no_such_table'")
    assert "Traceback" not in err


def test_a_usage_error_exits_two(capsys):
    assert run(["--no-such-option"]) == 2


def test_schema_list_shows_every_table(capsys):
    assert run(["schema", "list"]) == 0
    out = capsys.readouterr().out
    assert "tax_monthly" in out and "bureau_person_monthly" in out
