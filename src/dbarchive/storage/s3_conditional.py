"""Conditional writes on S3: replace an object only if it is still the version a writer read.

The commit marker of a day (``_manifest.json``) is replaced with ``If-Match: <ETag read>`` (or
created with ``If-None-Match: *``), so two writers that both checked the day and then wrote it
cannot both win: the slower one gets 412 and commits nothing (docs/design/publication.md, step 6).
AWS S3, SeaweedFS and MinIO enforce both headers on PutObject. botocore models ``IfMatch`` on
PutObject since late 2024 (1.35.6x); MWAA 2.10 pins 1.35.36, which has ``IfNoneMatch`` only: there
the header is added to the request by two client events (the parameter is taken out before
botocore validates it, and put back as the header before the request is signed).
"""

from __future__ import annotations

from typing import Any

_CONTEXT_KEY = "dbarchive_if_match"


def knows_if_match(client: Any) -> bool:
    """Whether this botocore has PutObject's ``IfMatch`` parameter."""
    operation = client.meta.service_model.operation_model("PutObject")
    return "IfMatch" in operation.input_shape.members


def teach_if_match(client: Any) -> None:
    """Let ``put_object(IfMatch=…)`` work on a botocore that does not model it: the value rides in
    the request's context and becomes the ``If-Match`` header. Once per client."""
    client.meta.events.register("provide-client-params.s3.PutObject", _take_if_match)
    client.meta.events.register("before-call.s3.PutObject", _send_if_match)


def _take_if_match(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    etag = params.pop("IfMatch", None)
    if etag is not None:
        context[_CONTEXT_KEY] = etag


def _send_if_match(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    etag = context.get(_CONTEXT_KEY)
    if etag is not None:
        params["headers"]["If-Match"] = etag


def condition_args(etag: str | None) -> dict[str, Any]:
    """PutObject's condition: replace the version whose ETag is ``etag``; None: create only."""
    return {"IfNoneMatch": "*"} if etag is None else {"IfMatch": etag}
