"""The shell blocks of a Markdown document, and one bash script that runs them in order.

What runs is decided by the Markdown alone, never guessed from a block's content:

* A fenced block tagged ``sh``, ``bash`` or ``shell`` is a command to paste: it runs.
* Any other tag (``console`` and ``text`` for output samples, ``json``, ``python``...) is not a
  command and does not run. A fence with **no** tag is refused: say what the block is.
* ``<!-- not-run: reason -->`` on the line just before a shell block skips it (deployment to AWS,
  ``make`` targets that install...). The reason is required.
* ``<!-- run-twice: reason -->`` on the line just before a shell block runs it twice in a row, as a
  reader who pastes it again would: both runs must answer the same HTTP statuses and print the
  same output (the same JSON values, when it prints JSON).

A mark that does not stand just before a shell block is refused, so marks cannot drift from the
blocks they are about either.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

RUN_LANGUAGES = frozenset({"sh", "bash", "shell"})
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_MARK = re.compile(r"^<!--\s*(?P<name>not-run|run-twice)\s*:(?P<reason>.*?)-->\s*$")
_ANY_MARK = re.compile(r"^<!--\s*(not-run|run-twice)\b")


class DocBlockError(ValueError):
    """The Markdown breaks the rules above (an untagged fence, a stray or empty mark)."""


@dataclass(frozen=True)
class Block:
    doc: str  # the document's name, as shown in messages
    line: int  # 1-based line of the opening fence
    language: str
    body: str  # the lines between the fences, with a final newline
    mark: str | None = None  # "not-run" or "run-twice"
    reason: str = ""

    @property
    def runs(self) -> bool:
        return self.language in RUN_LANGUAGES and self.mark != "not-run"

    @property
    def times(self) -> int:
        return 2 if self.mark == "run-twice" else 1

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def extract_blocks(text: str, doc: str) -> list[Block]:
    """Every fenced block of ``text``, in order, with its mark."""
    lines = text.splitlines()
    blocks: list[Block] = []
    pending: tuple[str, str, int] | None = None  # a mark waiting for its block: (name, reason, line)

    def stray(mark: tuple[str, str, int]) -> DocBlockError:
        return DocBlockError(f"{doc}:{mark[2]}: <!-- {mark[0]}: --> is not just before a shell block")

    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            stripped = lines[i].strip()
            mark = _MARK.match(stripped)
            if mark is not None:
                if pending is not None:
                    raise stray(pending)
                if not mark["reason"].strip():
                    raise DocBlockError(f"{doc}:{i + 1}: <!-- {mark['name']}: --> needs a reason")
                pending = (mark["name"], mark["reason"].strip(), i + 1)
            elif _ANY_MARK.match(stripped):
                raise DocBlockError(f"{doc}:{i + 1}: malformed mark {stripped!r}: <!-- not-run: reason -->")
            elif pending is not None:
                raise stray(pending)
            i += 1
            continue
        open_line, fence, info = i + 1, opening["fence"], opening["info"].strip()
        language = info.split()[0].lower() if info else ""
        if not language:
            raise DocBlockError(f"{doc}:{open_line}: a fenced block without a language: tag it (sh, console, text...)")
        if pending is not None and language not in RUN_LANGUAGES:
            raise DocBlockError(f"{doc}:{pending[2]}: <!-- {pending[0]}: --> stands before a {language} block, "
                                "which never runs")
        body: list[str] = []
        i += 1
        while i < len(lines):
            closing = lines[i].strip()
            if len(closing) >= len(fence) and set(closing) == {fence[0]}:
                break
            body.append(lines[i])
            i += 1
        else:
            raise DocBlockError(f"{doc}:{open_line}: this fenced block is never closed")
        name, reason = (pending[0], pending[1]) if pending else (None, "")
        blocks.append(Block(doc, open_line, language, "\n".join(body) + "\n", name, reason))
        pending = None
        i += 1
    if pending is not None:
        raise stray(pending)
    return blocks


@dataclass(frozen=True)
class Script:
    text: str
    origin: dict[int, int]  # script line -> 1-based line in the document, for lines of block bodies
    runs: list[tuple[Block, int]]  # run number -> (block, attempt 1 or 2), in order


def build_script(blocks: list[Block], *, prelude: str, out_dir: Path) -> Script:
    """One bash script running the blocks that run, in order, in one shell session: variables and
    functions carry from block to block, as when a reader pastes them one after the other.

    Run N's stdout and stderr go to ``out_dir/N.out`` and ``N.err``. ``out_dir/progress`` gets
    ``begin N`` and ``end N`` as runs start and finish, ``fail STATUS LINE`` for a command that
    fails (LINE: of the script; ``origin`` maps it to the document), and ``done`` at the end."""
    progress = shlex.quote(str(out_dir / "progress"))
    text_lines = [
        "set -Eeuo pipefail",
        f"trap 'echo \"fail $? $LINENO\" >> {progress}' ERR",
        *prelude.rstrip("\n").split("\n"),
    ]
    origin: dict[int, int] = {}
    runs: list[tuple[Block, int]] = []
    for block in blocks:
        if not block.runs:
            continue
        for attempt in range(1, block.times + 1):
            run = len(runs)
            runs.append((block, attempt))
            text_lines.append(f"echo 'begin {run}' >> {progress}")
            text_lines.append("{")
            for offset, body_line in enumerate(block.body.rstrip("\n").split("\n"), start=1):
                text_lines.append(body_line)
                origin[len(text_lines)] = block.line + offset
            out, err = (shlex.quote(str(out_dir / f"{run}.{kind}")) for kind in ("out", "err"))
            text_lines.append(f"}} > {out} 2> {err} < /dev/null")
            text_lines.append(f"echo 'end {run}' >> {progress}")
    text_lines.append(f"echo done >> {progress}")
    return Script("\n".join(text_lines) + "\n", origin, runs)
