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
    """A principal acting in one tenant with the role and display name its membership gives it.

    ``display_name`` is read from the accounts store by the access check (``AccessService``),
    never from the token: an access token has no email claim and an id token has one, and what is
    sealed must not depend on which of the two was sent.
    """

    principal: Principal
    tenant_id: str
    role: Role
    display_name: str = ""

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    @property
    def name(self) -> str:
        """The name sealed in what this caller records. Callers built by the access check always
        carry their membership's name; the fallbacks serve callers built by hand (demo seeding,
        the sample export, tests)."""
        return self.display_name or self.principal.email or self.principal.user_id
