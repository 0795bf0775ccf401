"""``[ledger]``: the tamper-evident record of every deletion (``dbarchive.ledger``).

Off by default. Three lines turn it on with signing::

    [ledger]
    enabled = true
    hmac_key_env = "DBARCHIVE_LEDGER_KEY"

The key itself is never in the file: it is read from the named environment variable when a record
is written or audited. ``kms_key_id`` signs with an AWS KMS HMAC key instead (``GenerateMac``).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from dbarchive.config.base import Frozen

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class LedgerSettings(Frozen):
    """Whether purges, partition drops and restores write ledger records, and how they are signed."""

    enabled: bool = False
    hmac_key_env: str | None = Field(
        default=None, description="environment variable holding the HMAC-SHA256 key"
    )
    kms_key_id: str | None = Field(
        default=None, description="AWS KMS HMAC key (id, ARN or alias) that signs records"
    )

    @field_validator("hmac_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not _ENV_NAME.match(v):
            raise ValueError(
                f"hmac_key_env {v!r} is not an environment variable name; name the variable "
                'that holds the key, e.g. "DBARCHIVE_LEDGER_KEY" (never the key itself)'
            )
        return v

    @model_validator(mode="after")
    def _one_signer(self) -> LedgerSettings:
        if self.hmac_key_env and self.kms_key_id:
            raise ValueError("set hmac_key_env or kms_key_id, not both: records have one signer")
        return self
