"""docs/roles.md shows the permission matrix that the code enforces, line for line."""

import re
from pathlib import Path

from chalicelib.domain.permissions import MATRIX, Permission, PlatformPermission, Role

ROLES_DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"


def documented_matrix() -> dict[str, dict[str, bool]]:
    lines = ROLES_DOC.read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| permission |"))
    columns = [c.strip() for c in lines[header].strip("|").split("|")][1:]
    table = {}
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        permission = re.sub(r"`", "", cells[0])
        table[permission] = {col: cell == "yes" for col, cell in zip(columns, cells[1:], strict=True)}
    return table


def test_the_documented_matrix_is_the_enforced_matrix():
    documented = documented_matrix()
    expected = {str(p): {**{str(r): p in MATRIX[r] for r in Role}, "operator": False} for p in Permission}
    expected.update({str(p): {**{str(r): False for r in Role}, "operator": True} for p in PlatformPermission})
    assert documented == expected


def test_no_tenant_role_holds_a_platform_permission():
    for role, permissions in MATRIX.items():
        assert not {str(p) for p in permissions} & {str(p) for p in PlatformPermission}, role


def test_the_auditor_is_read_only():
    writes = {
        Permission.SALE_RECORD,
        Permission.JOURNAL_RECORD,
        Permission.ENTRY_REVERSE,
        Permission.CLOSE_DAY,
        Permission.CLOSE_PERIOD,
        Permission.CHECKPOINT_SIGN,
        Permission.MEMBERS_MANAGE,
        Permission.AUDITOR_GRANT,
        Permission.TENANT_CONFIGURE,
        Permission.TENANT_GO_LIVE,
        Permission.TICKET_OPEN,
    }
    assert not MATRIX[Role.AUDITOR] & writes
