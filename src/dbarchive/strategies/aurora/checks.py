"""What ``SELECT … INTO OUTFILE S3`` needs from the server, probed without changing anything.

Only Aurora MySQL has the statement; RDS for MySQL, MySQL community and MariaDB do not, and an
aurora-outfile export refuses them before it writes anything (:func:`require_outfile`). On
Aurora it also needs (AWS's "Saving data from an Amazon Aurora MySQL DB cluster into text files
in an Amazon S3 bucket"):

- the user's right to run it: the ``AWS_SELECT_S3_ACCESS`` role on Aurora MySQL 3 (active in
  the session: dbarchive runs ``SET ROLE ALL`` when it is not), the ``SELECT INTO S3``
  privilege on Aurora MySQL 2;
- an IAM role for the cluster: the cluster parameter ``aws_default_s3_role`` (version 3;
  version 2 also reads ``aurora_select_into_s3_role`` first) set to its ARN, the role
  associated with the cluster and allowed what AWS lists for the statement (``s3:ListBucket``;
  ``s3:PutObject``, ``GetObject``, ``DeleteObject``, ``AbortMultipartUpload``,
  ``ListMultipartUploadParts`` on the prefix) — the association is not visible from SQL;
- outbound network access from the cluster to S3, and the bucket's region in the statement's
  URI (``s3-<region>://``; without a region Aurora writes to its own region).

Each ``check_*`` function returns a :class:`CheckResult` for ``dbarchive check``; the shape is
the one ``checks.py`` (``dbarchive check``) gives its own results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbarchive.checks.result import CheckResult
from dbarchive.context import Context
from dbarchive.errors import ConfigError, DbArchiveError, SourceError
from dbarchive.sources.mysql import MySqlSource

_S3_ROLE = "AWS_SELECT_S3_ACCESS"
_HOST_REGION = re.compile(r"\.([a-z]{2}(?:-gov)?-[a-z]+-\d)\.rds\.amazonaws\.com(?:\.cn)?$")


@dataclass(frozen=True)
class ServerKind:
    """What the server is, as far as the statement cares."""

    version: str  # @@version, e.g. "8.0.32" or "10.11.6-MariaDB"
    aurora_version: str | None  # AURORA_VERSION(), e.g. "3.05.2"; None elsewhere
    rds: bool  # an RDS-managed server (its basedir is /rdsdbbin)

    @property
    def is_aurora(self) -> bool:
        return self.aurora_version is not None

    @property
    def aurora_major(self) -> int | None:
        if self.aurora_version is None:
            return None
        head = self.aurora_version.split(".", 1)[0]
        return int(head) if head.isdigit() else None

    def describe(self) -> str:
        if self.is_aurora:
            return f"Aurora MySQL {self.aurora_version} (MySQL {self.version})"
        if "mariadb" in self.version.lower():
            return f"MariaDB {self.version.split('-MariaDB')[0]}"
        return f"{'RDS for MySQL' if self.rds else 'MySQL'} {self.version}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else "" if value is None else str(value)


def server_kind(source: MySqlSource) -> ServerKind:
    """Ask the server what it is (``AURORA_VERSION()`` exists only on Aurora MySQL)."""
    version, basedir = source.query("SELECT @@version, @@basedir", what="reading the version")[0]
    try:
        aurora = _text(source.query("SELECT AURORA_VERSION()", what="asking for Aurora")[0][0])
    except SourceError:
        aurora = None
    return ServerKind(_text(version), aurora or None, _text(basedir).startswith("/rdsdbbin"))


def not_supported(source: MySqlSource, kind: ServerKind) -> str:
    """The refusal, naming the server and the fix."""
    return (
        f"{source.settings.safe_url()} is {kind.describe()}, not Aurora MySQL: SELECT … INTO "
        "OUTFILE S3 exists only on Aurora MySQL, so export.strategy 'aurora-outfile' cannot run "
        'here; set export.strategy = "stream" (the default, which works on every MySQL and '
        "MariaDB)"
    )


def require_outfile(source: MySqlSource) -> ServerKind:
    """ConfigError unless the server is Aurora MySQL (before an export writes anything)."""
    kind = server_kind(source)
    if not kind.is_aurora:
        raise ConfigError(not_supported(source, kind))
    return kind


def activate_s3_role(source: MySqlSource) -> None:
    """On Aurora MySQL 3, make the granted ``AWS_SELECT_S3_ACCESS`` role active in the session.

    Roles are inactive in a new session unless ``activate_all_roles_on_login`` is set.
    """
    kind = server_kind(source)
    if kind.aurora_major is None or kind.aurora_major < 3:
        return
    active = _text(source.query("SELECT CURRENT_ROLE()", what="reading the active roles")[0][0])
    if _S3_ROLE.lower() not in active.lower():
        source.execute("SET ROLE ALL", what="activating the AWS_SELECT_S3_ACCESS role")


def _grants(source: MySqlSource) -> str:
    return "\n".join(_text(r[0]) for r in source.query("SHOW GRANTS", what="reading grants"))


def check_server(ctx: Context) -> CheckResult:
    """The server is Aurora MySQL (the statement exists nowhere else)."""
    name = "aurora-outfile: server is Aurora MySQL"
    try:
        kind = server_kind(ctx.mysql)
    except DbArchiveError as exc:
        return CheckResult(name, False, str(exc).splitlines()[0], "check the [source] login")
    if kind.is_aurora:
        return CheckResult(name, True, kind.describe())
    return CheckResult(
        name,
        False,
        not_supported(ctx.mysql, kind),
        'set export.strategy = "stream" for these tables (it works on every MySQL and MariaDB)',
    )


def check_privilege(ctx: Context, kind: ServerKind) -> CheckResult:
    """The user may run the statement: the role (Aurora 3) or the privilege (Aurora 2)."""
    user = "<the archive user>"
    if (kind.aurora_major or 3) >= 3:
        name, needed = f"aurora-outfile: role {_S3_ROLE}", _S3_ROLE
        fix = f"GRANT {_S3_ROLE} TO {user}; (dbarchive activates it with SET ROLE ALL)"
        found = ("rds_superuser_role", _S3_ROLE)
    else:
        name, needed = "aurora-outfile: privilege SELECT INTO S3", "SELECT INTO S3"
        fix = f"GRANT SELECT INTO S3 ON *.* TO {user};"
        found = ("SELECT INTO S3", "ALL PRIVILEGES")
    try:
        grants = _grants(ctx.mysql)
    except DbArchiveError as exc:
        return CheckResult(name, False, str(exc).splitlines()[0], fix)
    if any(f.lower() in grants.lower() for f in found):
        return CheckResult(name, True, f"{needed} granted")
    return CheckResult(name, False, f"SHOW GRANTS shows no {needed}", fix)


def _variable(source: MySqlSource, name: str) -> str:
    try:
        return _text(source.query(f"SELECT @@GLOBAL.{name}", what=f"reading {name}")[0][0])
    except SourceError:
        return ""  # an unknown variable: not this version's parameter


def check_s3_role(ctx: Context, kind: ServerKind) -> CheckResult:
    """The cluster parameter naming the IAM role Aurora writes to S3 with is set."""
    params = ["aws_default_s3_role"]
    if (kind.aurora_major or 3) < 3:
        params.insert(0, "aurora_select_into_s3_role")
    name = f"aurora-outfile: IAM role ({' or '.join(params)})"
    values = {p: _variable(ctx.mysql, p) for p in params}
    arn = next((v for v in values.values() if v), "")
    fix = (
        f"set the DB cluster parameter {params[-1]} to the ARN of an IAM role allowed "
        "s3:ListBucket on the bucket and s3:PutObject, GetObject, DeleteObject, "
        "AbortMultipartUpload, ListMultipartUploadParts on the archive prefix, and associate it "
        "with the cluster (aws rds add-role-to-db-cluster); the association is not visible from SQL"
    )
    if not arn:
        return CheckResult(name, False, "not set", fix)
    return CheckResult(
        name, True, f"{arn} (its association with the cluster is not visible from SQL)"
    )


def cluster_region(ctx: Context) -> str | None:
    """The region in the source's RDS host name (``….<region>.rds.amazonaws.com``), if it has one."""
    host = ctx.source.settings.connect_args().get("host", "")
    match = _HOST_REGION.search(str(host))
    return match.group(1) if match else None


def check_bucket_region(ctx: Context) -> CheckResult:
    """The bucket's region goes into the statement's URI; a different region costs transfer."""
    name = "aurora-outfile: bucket region"
    configured = ctx.job.destination.region
    try:
        actual = getattr(ctx.storage, "bucket_region", lambda: None)()
    except DbArchiveError as exc:
        actual, detail = None, f" (GetBucketLocation failed: {str(exc).splitlines()[0]})"
    else:
        detail = ""
    if configured and actual and configured != actual:
        return CheckResult(
            name,
            False,
            f"[destination] region is {configured}, the bucket is in {actual}",
            f'set [destination] region = "{actual}"',
        )
    region = configured or actual
    cluster = cluster_region(ctx)
    if region is None:
        return CheckResult(
            name,
            True,
            f"unknown{detail}: statements write to s3://… (the cluster's own region)",
        )
    where = f"statements write to s3-{region}://…"
    if cluster and cluster != region:
        where += f"; the cluster is in {cluster}: every byte crosses regions (transfer cost)"
    return CheckResult(name, True, f"{region}: {where}")


def outfile_checks(ctx: Context) -> list[CheckResult]:
    """Every check the aurora-outfile strategy adds, in order (only the first off Aurora)."""
    server = check_server(ctx)
    if not server.ok:
        return [server]
    kind = server_kind(ctx.mysql)
    return [server, check_privilege(ctx, kind), check_s3_role(ctx, kind), check_bucket_region(ctx)]
