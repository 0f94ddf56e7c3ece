"""``scalinglaw data`` through the CLI entry point."""

from __future__ import annotations

from scalinglaw.cli import main


def test_data_build(capsys, sources_root, dataset):
    assert main(["data", "build", "--sources", str(sources_root)]) == 0
    out = capsys.readouterr().out
    assert "gpt3" in out and "Documented drops" in out and "step 0" in out


def test_data_families(capsys, sources_root, dataset):
    assert main(["data", "families", "--sources", str(sources_root)]) == 0
    out = capsys.readouterr().out
    assert "gpt3" in out and "Families" in out


def test_data_families_markdown(capsys, sources_root, dataset):
    assert main(["data", "families", "--markdown", "--sources", str(sources_root)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| family |") and "485" in out


def test_data_show(capsys, sources_root, dataset):
    assert main(["data", "show", "opt", "--sources", str(sources_root)]) == 0
    out = capsys.readouterr().out
    assert "opt-175b" in out and "val_loss" in out


def test_data_show_unknown_family(capsys, sources_root, dataset):
    assert main(["data", "show", "gpt-3", "--sources", str(sources_root)]) == 2
    err = capsys.readouterr().err
    assert err.count("Error:") == 1 and "Did you mean 'gpt3'" in err
