"""``dbarchive check``: what a run would need, probed before it runs — without changing anything
in the database, and in the bucket only a probe object that is removed again.

One function per check, each returning a :class:`CheckResult` (what was found and, when it
failed, the fix). ``run_checks`` calls them in order; other platforms (e.g. Aurora) add their own
functions next to these. Every MySQL probe is one that the server answers from privileges alone:
``EXPLAIN SELECT`` / ``EXPLAIN DELETE … WHERE 1 = 0`` fail exactly when the statement would.
"""

from __future__ import annotations

from dbarchive.checks.dependents import check_cascades, check_delete_triggers
from dbarchive.checks.read_endpoint import check_read_endpoint
from dbarchive.checks.result import CheckResult
from dbarchive.checks.server import (
    check_login,
    check_redo_log,
    check_replicas,
    check_statement_limit,
    check_tls,
    check_writable,
)
from dbarchive.checks.storage import (
    check_bucket,
    check_bucket_access,
    check_bucket_posture,
    check_conditional_writes,
    local_access,
)
from dbarchive.checks.table import (
    check_delete,
    check_generated,
    check_key_and_index,
    check_moving_time,
    check_partition_drop,
    check_select,
    check_system_versioning,
    check_time_values,
    describe_no_day_rows,
    require_delete,
    system_versioning_note,
)
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.strategies import strategy_named


def run_checks(
    ctx: Context, specs: list[TableSpec], purge: bool = True, storage: bool = True
) -> list[CheckResult]:
    """Every check for these tables, in the order a run needs them."""
    results = [check_login(ctx)]
    if not results[0].ok:
        return results
    results.append(check_tls(ctx))
    for spec in specs:
        results.append(check_select(ctx, spec))
        if results[-1].ok:  # else: no such table, or not readable (said by check_select)
            results.append(check_key_and_index(ctx, spec))
        generated = check_generated(ctx, spec)
        if generated is not None:
            results.append(generated)
        notes = (
            check_moving_time(ctx, spec),
            check_time_values(ctx, spec),
            check_system_versioning(ctx, spec),
        )
        results += [r for r in notes if r is not None]
        if purge:
            results.append(check_delete(ctx, spec))
            results.append(check_cascades(ctx, spec))
            triggers = check_delete_triggers(ctx, spec)
            results += [triggers] if triggers is not None else []
            results += check_partition_drop(ctx, spec)
    results += check_read_endpoint(ctx, specs)  # [source] read_url: where exports read
    if purge:
        results += [check_writable(ctx), check_statement_limit(ctx), *check_redo_log(ctx)]
        results += check_replicas(ctx)
    for name in dict.fromkeys(spec.export.strategy for spec in specs):
        results += strategy_named(name).checks(ctx)  # e.g. what Aurora needs
    if storage:
        results.append(check_bucket(ctx))
        if results[-1].ok:
            results.append(local_access(ctx, check_bucket_access(ctx)))
            if results[-1].ok:
                results.append(check_conditional_writes(ctx))
            results += check_bucket_posture(ctx)
    return results


__all__ = [
    "CheckResult",
    "describe_no_day_rows",
    "require_delete",
    "run_checks",
    "system_versioning_note",
]
