"""An export whose manifest is larger than what KMS signs RAW (4,096 bytes) is signed through its
SHA-256 digest, and the signature is still the documented one: ECDSA P-256 / SHA-256 over the bytes
of manifest.json, checked by `scelle verify`, by `cryptography` and by the auditor guide's openssl
recipe. The local key refuses what KMS refuses, so signing the manifest RAW, as the code once did,
fails here as it would on AWS."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from datetime import date

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.adapters.signing import MAX_MESSAGE_BYTES, MessageRefused
from chalicelib.cli import main as scelle
from chalicelib.commands.export_sample import MemoryStack
from chalicelib.verify_export import format as fmt
from chalicelib.verify_export import verify_archive


@pytest.fixture(scope="module")
def big_export(tmp_path_factory):
    # A checkpoint after every entry: the manifest lists each checkpoint's size, so it grows with them.
    stack = MemoryStack(tmp_path_factory.mktemp("keys"), country="FR", checkpoint_every=1)
    stack.trade(days=6, sales_per_day=20)
    job, data = stack.export("fiscal", first_day=date(2026, 2, 1), last_day=date(2026, 3, 31))
    assert job["status"] == "done", job
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    path = tmp_path_factory.mktemp("export") / "export.zip"
    path.write_bytes(data)
    return stack, path, files


def test_the_manifest_is_over_the_kms_raw_limit_and_grows_with_the_checkpoints(big_export):
    _, _, files = big_export
    manifest = json.loads(files[fmt.MANIFEST])
    assert len(files[fmt.MANIFEST]) > MAX_MESSAGE_BYTES
    assert sum(len(chain["checkpoint_sizes"]) for chain in manifest["chains"]) > 100


def test_an_export_with_a_manifest_over_4096_bytes_is_signed_and_verifies_offline(big_export, capsys):
    from chalicelib.verify_export.verifier import fingerprint

    stack, path, _ = big_export
    report = verify_archive(path)
    assert report.ok, report.text()
    assert scelle(["verify", "--trusted-key", fingerprint(stack.signer.public_key_pem()), str(path)]) == 0
    assert "RESULT: OK" in capsys.readouterr().out


def test_the_signature_is_ecdsa_p256_sha256_over_the_manifest_bytes(big_export):
    _, _, files = big_export
    key_id = json.loads(files[fmt.MANIFEST])["signature"]["key_id"]
    key = serialization.load_pem_public_key(files[fmt.key_file(key_id)])
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    key.verify(files[fmt.SIGNATURE], files[fmt.MANIFEST], ec.ECDSA(hashes.SHA256()))  # raises if not


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_auditor_guides_openssl_recipe_verifies_the_manifest(big_export, tmp_path):
    _, _, files = big_export
    key_id = json.loads(files[fmt.MANIFEST])["signature"]["key_id"]
    for name in (fmt.MANIFEST, fmt.SIGNATURE, fmt.key_file(key_id)):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(files[name])
    # docs/auditor-guide.en.md, section 6 ($KEY_FILE: the "file" of the signing key in keys/keys.json,
    # fmt.key_file(key_id); the archive's README.txt prints that path literally):
    # openssl dgst -sha256 -verify "$KEY_FILE" -signature manifest.sig manifest.json    # Verified OK
    done = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", fmt.key_file(key_id), "-signature", fmt.SIGNATURE, fmt.MANIFEST],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Verified OK" in done.stdout, done.stdout + done.stderr


def test_signing_the_manifest_raw_is_refused_as_kms_refuses_it(big_export):
    stack, _, files = big_export
    with pytest.raises(MessageRefused, match="less than or equal to 4096"):
        stack.signer.sign_message(files[fmt.MANIFEST], "RAW")  # what the signer used to send to KMS
