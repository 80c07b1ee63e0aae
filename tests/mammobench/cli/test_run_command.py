from __future__ import annotations

import pytest

from mammobench.cli.app import main


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is a folder"),
        ('mass = "a mass"\n', "'mass' must be a non-empty list of strings"),
        ("mass = [\n", "is not valid TOML"),
    ],
)
def test_bad_prompts_file_named(tmp_path, capsys, content, message):
    path = tmp_path / "prompts"
    if content is None:
        path.mkdir()
    else:
        path.write_text(content, encoding="utf-8")

    code = main(["run", "--model", "random/resnet18", "--task", "vindr-mass", "--prompts", str(path)])

    assert code == 1
    assert message in capsys.readouterr().err
