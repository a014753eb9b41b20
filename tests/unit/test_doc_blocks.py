"""The rules that decide which blocks of the docs run (tests/support/doc_blocks.py): by the
Markdown's own marks, never by guessing from the content."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.doc_blocks import DocBlockError, build_script, extract_blocks

DOC = """# Title

```sh
A=1
```

<!-- not-run: needs an AWS account -->
```sh
make deploy
```

<!-- run-twice: the text says to send it again -->
```bash
echo "$A"
```

```console
$ output sample
```

````text
```sh
not a block of its own
```
````
"""


def test_shell_blocks_run_marks_decide_and_other_languages_never_run():
    blocks = extract_blocks(DOC, "x.md")
    assert [(b.line, b.language, b.mark, b.runs, b.times) for b in blocks] == [
        (3, "sh", None, True, 1),
        (8, "sh", "not-run", False, 1),
        (13, "bash", "run-twice", True, 2),
        (17, "console", None, False, 1),
        (21, "text", None, False, 1),
    ]
    assert blocks[1].reason == "needs an AWS account"
    assert blocks[4].body == "```sh\nnot a block of its own\n```\n"


@pytest.mark.parametrize(("text", "message"), [
    ("```\nls\n```\n", "x.md:1: a fenced block without a language"),
    ("<!-- not-run: -->\n```sh\nls\n```\n", "x.md:1: <!-- not-run: --> needs a reason"),
    ("<!-- not-run: why -->\n\n```sh\nls\n```\n", "x.md:1: <!-- not-run: --> is not just before"),
    ("<!-- not-run: why -->\nSome text.\n```sh\nls\n```\n", "x.md:1: <!-- not-run: --> is not just before"),
    ("<!-- run-twice: why -->\n```json\n{}\n```\n", "stands before a json block, which never runs"),
    ("text\n<!-- not-run: why -->\n", "x.md:2: <!-- not-run: --> is not just before"),
    ("<!-- not-run why -->\n```sh\nls\n```\n", "x.md:1: malformed mark"),
    ("```sh\nls\n", "x.md:1: this fenced block is never closed"),
])
def test_what_the_markdown_must_not_do(text, message):
    with pytest.raises(DocBlockError, match=message.replace("(", r"\(").replace("[", r"\[")):
        extract_blocks(text, "x.md")


def test_one_session_carries_variables_runs_twice_and_names_the_failing_line(tmp_path):
    doc = "```sh\nX=hello\n```\n\n<!-- run-twice: again -->\n```sh\necho $X\n```\n\n```sh\ntrue\nfalse\n```\n"
    script = build_script(extract_blocks(doc, "x.md"), prelude=":", out_dir=tmp_path)
    assert [(block.line, attempt) for block, attempt in script.runs] == [(1, 1), (6, 1), (6, 2), (10, 1)]
    done = subprocess.run(["bash", "-c", script.text], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert (tmp_path / "1.out").read_text() == (tmp_path / "2.out").read_text() == "hello\n"
    progress = (tmp_path / "progress").read_text().split("\n")
    assert progress[:7] == ["begin 0", "end 0", "begin 1", "end 1", "begin 2", "end 2", "begin 3"]
    fail = next(line for line in progress if line.startswith("fail "))
    assert script.origin[int(fail.split()[2])] == 12  # `false`, line 12 of the document
