"""Which SHOW GRANTS lines let a login see every table of a schema (``checks/foreign_key_view``).

A grant on a schema whose name differs only in case was taken for the schema itself, and the
purge went through a cascade (an outside trial); a wildcard grant or one through a role was
refused though it shows every table."""

from __future__ import annotations

import pytest

from dbarchive.checks.foreign_key_view import _grants_schema

USER = "`arch`@`%`"


@pytest.mark.parametrize(
    ("line", "schema", "sees"),
    [
        (f"GRANT REFERENCES ON `zz_a`.* TO {USER}", "zz_a", True),
        (f"GRANT REFERENCES ON `zz_A`.* TO {USER}", "zz_a", False),  # another schema
        (f"GRANT SELECT, DELETE ON `zz_a`.`events` TO {USER}", "zz_a", False),  # one table
        (f"GRANT USAGE ON *.* TO {USER}", "zz_a", False),
        (f"GRANT PROCESS, SLAVE MONITOR ON *.* TO {USER}", "zz_a", False),  # no table privilege
        (f"GRANT SELECT ON *.* TO {USER}", "zz_a", True),
        (f"GRANT ALL PRIVILEGES ON `zz_a`.* TO {USER} WITH GRANT OPTION", "zz_a", True),
        (f"GRANT SELECT (`id`) ON `zz_a`.* TO {USER}", "zz_a", False),  # columns only
        (f"GRANT REFERENCES ON `zz\\_r%`.* TO {USER}", "zz_re_w", True),  # a wildcard grant
        (f"GRANT REFERENCES ON `zz\\_r%`.* TO {USER}", "zzxre_w", False),  # \\_ is literal
        (f"GRANT REFERENCES ON `zz_a`.* TO {USER}", "zzxa", True),  # `_` matches any, as MySQL
        ("GRANT REFERENCES ON `zz_a`.* TO `a_role`", "zz_a", True),  # an active role's
        (f"GRANT REFERENCES ON `we``ird`.* TO {USER}", "we`ird", True),
        (f"GRANT `a_role` TO {USER}", "zz_a", False),
        (f"GRANT EXECUTE ON PROCEDURE `zz_a`.`p` TO {USER}", "zz_a", False),
    ],
)
def test_a_grant_shows_the_schema_only_where_the_server_would(
    line: str, schema: str, sees: bool
) -> None:
    assert _grants_schema(line, schema) is sees
