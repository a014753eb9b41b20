"""Who is calling: the verified token's subject, and that subject inside one tenant."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chalicelib.domain.permissions import Role

if TYPE_CHECKING:
    from chalicelib.domain.tenant import Tenant


@dataclass(frozen=True)
class Principal:
    """A verified token's subject. Nothing here comes from the request body."""

    user_id: str
    email: str
    username: str = ""
    # The sign-in session the token belongs to (its ``origin_jti``): a signed-out session's tokens
    # are refused by the access check, which reads it with the membership (one request).
    session_id: str = ""


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
    # The tenant as read by the access check, in the same consistent read as the membership: the
    # services of the request use it rather than read it again (one DynamoDB round trip fewer).
    tenant: Tenant | None = field(default=None, compare=False, repr=False)

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    @property
    def name(self) -> str:
        """The name sealed in what this caller records. Callers built by the access check always
        carry their membership's name; the fallbacks serve callers built by hand (demo seeding,
        the sample export, tests)."""
        return self.display_name or self.principal.email or self.principal.user_id
