"""The user pool on Amazon Cognito (moto's in local mode): passwords and tokens live there only.

Takes a boto3 ``cognito-idp`` client, the pool id and the app client id (no secret; flows
USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH). Cognito's errors become the product's errors here.
Email verification is the product's own (a mailed single-use token); ``confirm`` then confirms
the user in the pool, so ``ConfirmSignUp`` codes are never used.
"""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import Conflict, Unauthenticated, Unavailable, ValidationFailed
from chalicelib.ports.accounts import BadCredentials, EmailNotVerified, Tokens


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class CognitoUsers:
    def __init__(self, client, user_pool_id: str, client_id: str, password_rule: str = "") -> None:
        self._idp = client
        self._pool = user_pool_id
        self._client = client_id
        self._password_rule = password_rule

    def _unavailable(self, exc: Exception) -> Unavailable:
        return Unavailable(f"the user directory cannot be reached: {exc}")

    def sign_up(self, email: str, password: str) -> str:
        try:
            reply = self._idp.sign_up(
                ClientId=self._client,
                Username=email,
                Password=password,
                UserAttributes=[{"Name": "email", "Value": email}],
            )
        except ClientError as exc:
            code = _code(exc)
            if code == "UsernameExistsException":
                raise Conflict("an account with this email address already exists", field="email") from exc
            if code == "InvalidPasswordException":
                raise ValidationFailed(
                    f"The password is refused: {self._password_rule}".strip(), field="password"
                ) from exc
            if code == "InvalidParameterException":
                raise ValidationFailed("Not a valid email address.", field="email") from exc
            raise self._unavailable(exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(exc) from exc
        return reply["UserSub"]

    def confirm(self, user_id: str) -> None:
        try:
            self._idp.admin_confirm_sign_up(UserPoolId=self._pool, Username=user_id)
            self._idp.admin_update_user_attributes(
                UserPoolId=self._pool,
                Username=user_id,
                UserAttributes=[{"Name": "email_verified", "Value": "true"}],
            )
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and _code(exc) == "NotAuthorizedException":
                return  # already confirmed
            raise self._unavailable(exc) from exc

    def delete(self, user_id: str) -> None:
        try:
            self._idp.admin_delete_user(UserPoolId=self._pool, Username=user_id)
        except ClientError as exc:
            if _code(exc) != "UserNotFoundException":
                raise self._unavailable(exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(exc) from exc

    def pool_user_since(self, email: str) -> datetime | None:
        """When the pool user with this email was created (None: there is none)."""
        try:
            user = self._idp.admin_get_user(UserPoolId=self._pool, Username=email)
        except ClientError as exc:
            if _code(exc) == "UserNotFoundException":
                return None
            raise self._unavailable(exc) from exc
        created = user.get("UserCreateDate")
        return created.astimezone(UTC) if isinstance(created, datetime) else datetime.now(UTC)

    def sign_in(self, email: str, password: str) -> Tokens:
        try:
            reply = self._idp.initiate_auth(
                ClientId=self._client,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": email, "PASSWORD": password},
            )
        except ClientError as exc:
            code = _code(exc)
            if code in ("NotAuthorizedException", "UserNotFoundException", "PasswordResetRequiredException"):
                raise BadCredentials("incorrect email or password", field="password") from exc
            if code == "UserNotConfirmedException":
                raise EmailNotVerified(
                    "this email address is not verified yet: use the token we mailed "
                    "(POST /v1/verify-email), or ask for a new one (POST /v1/verify-email/resend)",
                    field="email",
                ) from exc
            raise self._unavailable(exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(exc) from exc
        result = reply.get("AuthenticationResult")
        if not result:  # a challenge (new password, MFA): not offered by this product's pool
            raise BadCredentials(
                f"sign-in needs a step this API does not offer ({reply.get('ChallengeName')})",
                field="password",
            )
        return Tokens(result["AccessToken"], result["IdToken"], int(result["ExpiresIn"]), result.get("RefreshToken"))

    def refresh(self, refresh_token: str) -> Tokens:
        try:
            reply = self._idp.initiate_auth(
                ClientId=self._client,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
        except ClientError as exc:
            # moto answers an unknown refresh token with a 500; AWS with NotAuthorizedException.
            if _code(exc) in ("NotAuthorizedException", "InternalFailure", "InternalError", "500"):
                raise Unauthenticated(
                    "the refresh token is invalid, expired or signed out", field="refresh_token"
                ) from exc
            raise self._unavailable(exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(exc) from exc
        result = reply["AuthenticationResult"]
        return Tokens(result["AccessToken"], result["IdToken"], int(result["ExpiresIn"]))

    def set_password(self, user_id: str, password: str) -> None:
        """A password reset the product checked (its own mailed code): the new password, permanent."""
        try:
            self._idp.admin_set_user_password(UserPoolId=self._pool, Username=user_id, Password=password,
                                              Permanent=True)
        except ClientError as exc:
            if _code(exc) == "InvalidPasswordException":
                raise ValidationFailed(
                    f"The password is refused: {self._password_rule}".strip(), field="new_password"
                ) from exc
            raise self._unavailable(exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(exc) from exc

    def sign_out_everywhere(self, username: str) -> None:
        """Revoke every refresh token of the user (``username``: the email or the sub)."""
        try:
            self._idp.admin_user_global_sign_out(UserPoolId=self._pool, Username=username)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(exc) from exc
