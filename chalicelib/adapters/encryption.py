"""Envelope encryption of archive objects with the AWS Encryption SDK.

On AWS the data key is wrapped by the KMS key ``settings.data_key_id``; in local mode by a raw
256-bit AES key kept in ``<local_key_dir>/<name>.aes`` (created on first use, mode 0600). The
message format is the SDK's own (with key commitment), so an archive written locally and one
written on AWS are read by the same code and by any other ESDK implementation.

The SDK is imported only when an object is encrypted or decrypted: it is never on the API's
cold path. This SDK release has no keyrings without the separate MPL package (0.6-1 s of
import), so the equivalent master keys are used: ``KMSMasterKey`` and an AES-GCM
``RawMasterKey`` produce the same wire format as the KMS and raw AES keyrings.

Every object is bound to its place by an encryption context (chain, kind, position): a segment
copied under another key does not decrypt as that key's object.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

from chalicelib.domain.errors import ScelleError

LOCAL_PROVIDER_ID = "scelle-local"


class ArchiveDecryptionError(ScelleError):
    """An archive object does not decrypt with our keys, or its encryption context is not the
    one expected for its place in the archive."""

    code = "archive-undecryptable"
    title = "Archive object cannot be decrypted"


def _sdk():
    import aws_encryption_sdk
    from aws_encryption_sdk.identifiers import CommitmentPolicy

    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


class _Envelope(ABC):
    """Encrypts/decrypts with one master key (built lazily by ``_build_key``)."""

    key_description = ""

    def __init__(self) -> None:
        self._client = None
        self._key = None
        self._lock = threading.Lock()

    @abstractmethod
    def _build_key(self):
        """The Encryption SDK master key: KMS on AWS, a raw AES key file locally."""

    def _ready(self):
        with self._lock:
            if self._client is None:
                self._key = self._build_key()
                self._client = _sdk()
        return self._client, self._key

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        client, key = self._ready()
        ciphertext, _header = client.encrypt(source=plaintext, key_provider=key, encryption_context=dict(context))
        return ciphertext

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        """Decrypt and check that every pair of ``context`` is in the message's context."""
        client, key = self._ready()
        try:
            plaintext, header = client.decrypt(source=ciphertext, key_provider=key)
        except Exception as exc:  # the SDK raises a family of its own errors
            raise ArchiveDecryptionError(f"cannot decrypt with {self.key_description}: {exc}") from exc
        found = header.encryption_context
        for name, value in context.items():
            if found.get(name) != value:
                raise ArchiveDecryptionError(
                    f"encryption context {name}={found.get(name)!r}, expected {value!r}: "
                    "the object is not the one that belongs here"
                )
        return plaintext


class LocalAesEncryptor(_Envelope):
    """A raw AES-256-GCM wrapping key from a local file (local mode and tests)."""

    def __init__(self, key_dir: Path, name: str = "data") -> None:
        super().__init__()
        self._path = Path(key_dir) / f"{name}.aes"
        self._name = name
        self.key_description = f"local AES key {self._path}"

    def _key_bytes(self) -> bytes:
        if not self._path.exists():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process created it first
                pass
            else:
                with os.fdopen(fd, "wb") as out:
                    out.write(os.urandom(32))
        data = self._path.read_bytes()
        if len(data) != 32:
            raise ArchiveDecryptionError(f"{self._path} must hold exactly 32 bytes (AES-256), found {len(data)}")
        return data

    def _build_key(self):
        from aws_encryption_sdk.identifiers import EncryptionKeyType, WrappingAlgorithm
        from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
        from aws_encryption_sdk.key_providers.raw import RawMasterKey

        return RawMasterKey(
            provider_id=LOCAL_PROVIDER_ID,
            key_id=self._name.encode(),
            wrapping_key=WrappingKey(
                wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                wrapping_key=self._key_bytes(),
                wrapping_key_type=EncryptionKeyType.SYMMETRIC,
            ),
        )


class KmsEncryptor(_Envelope):
    """Data keys generated and wrapped by a KMS symmetric key (AWS; also works on moto)."""

    def __init__(self, kms_client, key_id: str) -> None:
        super().__init__()
        self._kms = kms_client
        self._key_ref = key_id
        self.key_description = f"KMS key {key_id}"

    def _build_key(self):
        from aws_encryption_sdk.key_providers.kms import KMSMasterKey, KMSMasterKeyConfig

        arn = self._key_ref
        if not arn.startswith("arn:"):
            # The SDK records the key ARN in the message; decryption matches on it.
            arn = self._kms.describe_key(KeyId=arn)["KeyMetadata"]["Arn"]
        return KMSMasterKey(config=KMSMasterKeyConfig(key_id=arn, client=self._kms))


def build_encryptor(data_key_id: str | None, local_key_dir: Path | None, kms_client_factory):
    """``local:<name>`` gives a local AES key under ``local_key_dir``; anything else is a KMS key."""
    from chalicelib.config import ConfigError

    if not data_key_id:
        raise ConfigError("SCELLE_DATA_KEY_ID must be set (a KMS key id/ARN, or local:<name>)")
    if data_key_id.startswith("local:"):
        if local_key_dir is None:
            raise ConfigError("SCELLE_LOCAL_KEY_DIR must be set for a local data key")
        return LocalAesEncryptor(local_key_dir, data_key_id.split(":", 1)[1] or "data")
    return KmsEncryptor(kms_client_factory(), data_key_id)
