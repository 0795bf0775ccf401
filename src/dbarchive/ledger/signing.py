"""Signing ledger records, so that nobody without the key can rewrite a chain whole.

A hash chain alone shows a record changed in place, but whoever can write the destination could
rewrite every record from the changed one to the end. A MAC over each record (HMAC-SHA256 with a
key from the environment, or an AWS KMS HMAC key through ``GenerateMac``/``VerifyMac``) makes
that impossible without the key. The MAC covers the SHA-256 of the record without its ``sig``
(``records.signed_part``): 32 bytes, well within KMS's 4096-byte message limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any, Protocol

from dbarchive.config import LedgerSettings
from dbarchive.errors import ConfigError
from dbarchive.ledger.records import signed_part

MIN_KEY_BYTES = 32
HMAC_ALG = "hmac-sha256"
KMS_ALG = "kms-hmac-sha256"


class Signer(Protocol):
    """Makes and checks the MAC of a record."""

    alg: str
    key_id: str  # names the key without revealing it

    def mac(self, message: bytes) -> str:
        """The MAC of ``message`` as text."""

    def verify(self, message: bytes, mac: str) -> bool:
        """Whether ``mac`` is this key's MAC of ``message``."""


class HmacSigner:
    """HMAC-SHA256 with a key held by whoever runs the job (and the auditor)."""

    alg = HMAC_ALG

    def __init__(self, key: bytes) -> None:
        self._key = key
        # A MAC of a fixed text: tells keys apart in records, reveals nothing about the key.
        self.key_id = hmac.new(key, b"dbarchive ledger key id", hashlib.sha256).hexdigest()[:16]

    def mac(self, message: bytes) -> str:
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, message: bytes, mac: str) -> bool:
        return hmac.compare_digest(self.mac(message), mac)

    def __repr__(self) -> str:
        return f"HmacSigner(key_id={self.key_id!r})"  # never the key


class KmsSigner:
    """An AWS KMS HMAC key (``HMAC_SHA_256``): the key never leaves KMS; the job's role needs
    ``kms:GenerateMac``, the auditor's ``kms:VerifyMac``. Tested over HTTP against moto's KMS
    server on 127.0.0.1 (``tests/integration/test_ledger.py``), reached as AWS is, by boto3."""

    alg = KMS_ALG

    def __init__(self, key_id: str, region: str | None = None, client: Any = None) -> None:
        self.key_id = key_id
        self._region = region
        self._client = client

    def _kms(self) -> Any:
        if self._client is None:
            import boto3  # the S3 extra's dependency; loaded only when KMS signs

            self._client = boto3.client("kms", region_name=self._region)
        return self._client

    def mac(self, message: bytes) -> str:
        answer = self._kms().generate_mac(
            Message=message, KeyId=self.key_id, MacAlgorithm="HMAC_SHA_256"
        )
        return base64.b64encode(answer["Mac"]).decode()

    def verify(self, message: bytes, mac: str) -> bool:
        kms = self._kms()
        try:
            answer = kms.verify_mac(
                Message=message,
                KeyId=self.key_id,
                MacAlgorithm="HMAC_SHA_256",
                Mac=base64.b64decode(mac),
            )
        except kms.exceptions.KMSInvalidMacException:
            return False
        return bool(answer.get("MacValid"))


def signer_for(settings: LedgerSettings, region: str | None = None) -> Signer | None:
    """The configured signer (None: records are not signed).

    Raises:
        ConfigError: ``hmac_key_env`` names a variable that is unset or holds too short a key.
    """
    if settings.kms_key_id:
        return KmsSigner(settings.kms_key_id, region)
    if not settings.hmac_key_env:
        return None
    value = os.environ.get(settings.hmac_key_env)
    if not value:
        raise ConfigError(
            f"[ledger] hmac_key_env names ${settings.hmac_key_env}, which is not set: export the "
            "ledger's key there (the same key for purges and audits), or remove hmac_key_env"
        )
    key = value.encode()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the ledger key in ${settings.hmac_key_env} is {len(key)} bytes; use at least "
            f"{MIN_KEY_BYTES} random bytes (e.g. the output of `openssl rand -hex 32`)"
        )
    return HmacSigner(key)


def sign(body: dict[str, Any], signer: Signer | None) -> dict[str, Any]:
    """``body`` with its ``sig`` (unchanged when records are not signed)."""
    if signer is None:
        return body
    mac = signer.mac(signed_part(body))
    return {**body, "sig": {"alg": signer.alg, "key": signer.key_id, "mac": mac}}


def signature_problem(body: dict[str, Any], signer: Signer | None) -> str | None:
    """Why the record's signature does not hold (None: it holds, or nothing is checked)."""
    sig = body.get("sig")
    if signer is None:
        return None
    if not isinstance(sig, dict):
        return "is not signed, but the ledger is configured with a key"
    if sig.get("alg") != signer.alg or sig.get("key") != signer.key_id:
        return (
            f"is signed by another key ({sig.get('alg')} {sig.get('key')}), not the configured "
            f"one ({signer.alg} {signer.key_id})"
        )
    if not signer.verify(signed_part(body), str(sig.get("mac", ""))):
        return "has a signature that does not match its content (changed without the key)"
    return None
