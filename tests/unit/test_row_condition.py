"""A table's ``where``: one self-contained, repeatable condition, checked on load."""

from __future__ import annotations

import pytest

from dbarchive.config import job_from_dict
from dbarchive.config.row_condition import check_row_condition
from dbarchive.errors import ConfigError

TAKEN = [
    "environment = 'production'",
    "(a = 1 OR b = 2) AND c IS NOT NULL",
    'note = \'it\'\'s\' AND other = "say ""hi"""',
    r"name LIKE 'a\_%'",
    # read as dbarchive's sessions read it (backslash escapes on; sql_mode's are dropped): one
    # string, so nothing escapes (an outside re-test saw it refused)
    r"note = 'it\'s' OR note = 'x\' OR (1=1) OR ('",
    "id--1 > 0",  # minus minus one: '--' is a comment only before a space
    "/* prod only */ env = 'prod' /* ) OR ( */",  # a closed note hides itself only (old configs)
    "amount % 7 = 0 AND note LIKE '%slot%'",
    "name = ')' OR name = '(' OR name = ';' OR name = '-- #'",
    "`now` = 1 AND t.rand = 2 AND now_col = 3 AND `a;b` = 4",
    "JSON_VALUE(j, '$.kind') = 'refund'",
    "amount > 1e5 AND created_at > '2026-01-01' - INTERVAL 1 DAY",
    "UNIX_TIMESTAMP(created_at) > 5",
    "account_id IN (SELECT id FROM keep_accounts)",
    # a statement's clause inside a subquery's parentheses is its own; the words as names stay
    "id IN (SELECT a FROM x UNION SELECT b FROM y)",
    "amount > (SELECT amount FROM t2 ORDER BY amount DESC LIMIT 1)",
    "limit_ms > 5 AND `limit` = 1 AND t.order = 2 AND note = 'x LIMIT 1' AND group_id = 3",
    "window = 3",  # not reserved in MariaDB: a column, unlike `WINDOW w AS (…)`
]

REFUSED = {
    # escapes the day's bounds: another day's rows exported and purged (an outside re-test)
    "env = 'production') OR (created_at >= '2026-12-05' AND env = 'test'": "did not open",
    "env = 'test') OR (env = 'production'": "did not open",
    "(a = 1": "never close",
    "a = 'x": "never ends",
    r"a = 'x\'": "never ends",
    "a = 1 -- x": "comment",
    "a = 1 --": "comment",
    # the driver reads %s as a parameter: every statement failed (an outside re-test)
    "id%slot = 0": "read as a parameter",
    # the first rows of each statement only (an outside re-test); a sequence moves on
    "ROWNUM() < 20": "ROWNUM gives another answer",
    "MOD(NEXT VALUE FOR seq, 2) = 0": "NEXT gives another answer",
    "PREVIOUS  value\tfor seq = 3": "PREVIOUS gives another answer",
    # a closed comment reads as a space on the server: RAND/**/() is RAND() (an outside re-test)
    "RAND/**/() < 0.5": "RAND gives another answer",
    "UNIX_TIMESTAMP /* x */ ( /**/ ) > 5": "UNIX_TIMESTAMP gives another answer",
    "MOD(NEXT/**/VALUE/* */FOR seq, 2) = 0": "NEXT gives another answer",
    "a = 1 /* x": "never ends",
    "a = 1 /*! OR 1 = 1 */": "executable comment",
    "a = 1 /*M! OR 1 = 1 */": "executable comment",
    "a = 1 # x": "comment",
    "a > 0; DROP TABLE t": "';'",
    "RAND() < 0.5": "RAND gives another answer",
    "created_at > NOW() - INTERVAL 1 DAY": "NOW gives another answer",
    "ts < current_date": "current_date gives another answer",
    "UNIX_TIMESTAMP() > 5": "UNIX_TIMESTAMP gives another answer",
    "uuid ( ) = 1": "uuid gives another answer",
    "x = @v": "variable",
    # a statement's clause ends the condition inside AND (…): every statement failed
    "env = 'prod' LIMIT 1": "its LIMIT at character 14 begins a clause of a whole statement",
    "env = 'prod' UNION SELECT 1": "its UNION at",
    "a = 1 intersect SELECT 1": "its intersect at",
    "a = 1 EXCEPT SELECT 1": "its EXCEPT at",
    "a = 1 order by id": "its order at",
    "a = 1 GROUP BY a": "its GROUP at",
    "a = 1 HAVING a > 0": "its HAVING at",
    "a = 1 INTO OUTFILE '/tmp/x'": "its INTO at",
    "a = 1 INTO DUMPFILE '/tmp/x'": "its INTO at",
    "a = 1 INTO @x": "its INTO at",
    "a = 1 FOR UPDATE": "its FOR at",
    "a = 1 LOCK IN SHARE MODE": "its LOCK at",
    "a = 1 PROCEDURE ANALYSE()": "its PROCEDURE at",
    "a = 1 WINDOW w AS (ORDER BY a)": "its WINDOW at",
    "(a = 1) /* x */ LIMIT 1": "its LIMIT at",  # at depth 0 again after its parenthesis
    "   ": "empty",
}


@pytest.mark.parametrize("text", TAKEN)
def test_a_condition_on_the_rows_own_values_is_taken_as_written(text: str) -> None:
    assert check_row_condition(text) == text


@pytest.mark.parametrize("text", list(REFUSED))
def test_a_filter_that_is_more_than_one_repeatable_condition_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=REFUSED[text]):
        check_row_condition(text)


def test_the_config_refuses_it_naming_the_table_setting() -> None:
    """Refused on load (exit 2, contacting nothing), with the way to write it."""
    table = {"name": "t", "timestamp_column": "ts", "where": "a = 1) OR (1 = 1"}
    with pytest.raises(ConfigError, match=r"tables\.0\.where \(table 't'\): .*like environment"):
        job_from_dict(
            {
                "source": {"url": "mysql://u@127.0.0.1/db"},
                "destination": {"url": "/x"},
                "tables": [table],
            }
        )
