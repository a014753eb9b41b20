"""Who is calling: the verified token's subject, and that subject inside one tenant."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.permissions import Role


@dataclass(frozen=True)
class Principal:
    """A verified token's subject. Nothing here comes from the request body."""

    user_id: str
    email: str
    username: str = ""


@dataclass(frozen=True)
class Caller:
    """A principal acting in one tenant with the role the membership table gives it."""

    principal: Principal
    tenant_id: str
    role: Role

    @property
    def user_id(self) -> str:
        return self.principal.user_id
