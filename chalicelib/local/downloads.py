"""What the web console offers for download: the slim verifier and the auditor guides.

The exports screen's *How to verify an archive* card links to them (``console/js/views/exports.js``):

* ``/console/downloads/scelle-verify.pyz``: the offline verifier as one file (``verifier/build_pyz.py``,
  what ``make verifier`` builds), and ``scelle-verify.pyz.sha256`` beside it, its SHA-256 in the
  ``sha256sum`` format (``<hex>  scelle-verify.pyz``), computed when it is built: the card shows it;
* ``/console/downloads/auditor-guide.en.md`` and ``auditor-guide.fr.md``: ``docs/``'s guides.

``ensure()`` prepares them in ``build/console-downloads/`` (gitignored): the verifier is rebuilt
when it is missing or older than a file of ``verifier/scelle_verify`` or the build script (a
tenth of a second), the guides are copied when they changed. ``scelle local`` calls it at start
and ``chalicelib.local.gateway`` serves the folder at ``/console/downloads/``; the CDK stack
(``infra/stacks/console.py``) calls it at synth and copies the folder to the console bucket under
``console/downloads/`` with the same content types, so the console finds the same files on AWS.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOWNLOADS_DIR = ROOT / "build" / "console-downloads"
URL_PREFIX = "/console/downloads/"  # under the console's own prefix (chalicelib.console_policy)
VERIFIER = "scelle-verify.pyz"
CHECKSUM = VERIFIER + ".sha256"
GUIDES = {"en": "auditor-guide.en.md", "fr": "auditor-guide.fr.md"}
# The content type of each file, by suffix: served so locally and stored so in the console bucket.
TYPES = {
    ".pyz": "application/octet-stream",  # a zipapp: no registered type; a download, never shown
    ".sha256": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}
_VERIFIER_SOURCES = ROOT / "verifier"
_lock = threading.Lock()


def _newest_source_mtime() -> float:
    files = [_VERIFIER_SOURCES / "build_pyz.py",
             *(p for p in (_VERIFIER_SOURCES / "scelle_verify").rglob("*.py") if "__pycache__" not in p.parts)]
    return max(p.stat().st_mtime for p in files)


def _build_verifier(out: Path) -> None:
    spec = importlib.util.spec_from_file_location("scelle_build_pyz", _VERIFIER_SOURCES / "build_pyz.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    module.build(out)  # staged and renamed by build(): a request never reads half a file
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    (out.parent / CHECKSUM).write_text(f"{digest}  {VERIFIER}\n", encoding="utf-8")


def ensure(out_dir: Path = DOWNLOADS_DIR) -> Path:
    """The downloads folder, up to date: the verifier (rebuilt if missing or stale) and its
    checksum, and the guides. Returns ``out_dir``."""
    with _lock:
        out_dir.mkdir(parents=True, exist_ok=True)
        verifier, checksum = out_dir / VERIFIER, out_dir / CHECKSUM
        if (not verifier.is_file() or not checksum.is_file()
                or verifier.stat().st_mtime < _newest_source_mtime()):
            _build_verifier(verifier)
        for name in GUIDES.values():
            source, copy = ROOT / "docs" / name, out_dir / name
            if not copy.is_file() or copy.read_bytes() != source.read_bytes():
                shutil.copyfile(source, copy)
        return out_dir


def sha256_of_verifier(out_dir: Path = DOWNLOADS_DIR) -> str:
    return (out_dir / CHECKSUM).read_text(encoding="utf-8").split()[0]


def download_file(path: str, root: Path = DOWNLOADS_DIR) -> Path | None:
    """The file a URL path under ``/console/downloads/`` serves (prepared on demand), or None."""
    if not path.startswith(URL_PREFIX):
        return None
    name = path[len(URL_PREFIX):]
    if name not in (VERIFIER, CHECKSUM, *GUIDES.values()):
        return None
    ensure(root)
    found = root / name
    return found if found.is_file() else None
