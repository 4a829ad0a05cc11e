"""
Authentication during the handshake: hooks that find out who is connecting.

Each class here is a handshake hook factory. It takes a ``check`` callable,
a function or a coroutine function, that maps a credential to a user object,
or to :obj:`None` when the credential isn't valid (unknown, expired...).
Register the hook like any other::

    async def user_for(token: str) -> User | None:
        return await db.users.by_token(token)

    app.add_handshake_hook(BearerToken(user_for))

The hook stores the user in :attr:`ws.user <wsroute.Connection.user>`, where
later hooks and the handler find it. When the request carries no credential,
or ``check`` returns :obj:`None`, the handshake is refused: 401 with a
``WWW-Authenticate`` challenge for the HTTP schemes (Bearer, Basic), 403 for
the others. Answers never repeat the credential, and wsroute never logs a
request's query string, where :class:`QueryToken` finds its token.

Which one? Browsers can't set headers on a WebSocket handshake, so browser
clients use :class:`QueryToken`, :class:`CookieToken` or
:class:`SubprotocolToken`; other clients can use :class:`BearerToken` or
:class:`BasicAuth`. :class:`FirstMessageToken` authenticates after the
handshake instead, with a token in the first message.

"""

from __future__ import annotations

import asyncio
import base64
import binascii
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from typing_extensions import override
from websockets.exceptions import InvalidHeader
from websockets.headers import parse_authorization_basic
from websockets.http11 import Request
from websockets.typing import Data, Subprotocol
from werkzeug.datastructures import Authorization, WWWAuthenticate
from werkzeug.exceptions import Forbidden, HTTPException, Unauthorized
from werkzeug.http import parse_cookie
from werkzeug.routing import Rule

from . import codec
from .exceptions import CloseConnection
from .routing import Route, describe

if TYPE_CHECKING:
    from .connection import Connection

__all__ = [
    "Authenticator",
    "BasicAuth",
    "BearerToken",
    "CookieToken",
    "FirstMessageToken",
    "QueryToken",
    "SubprotocolToken",
]

Check = Callable[..., Awaitable[Any] | Any]


class Authenticator(ABC):
    """
    Base class of the authentication hooks.

    A subclass says where the credential is, in :meth:`credential`, and how
    to refuse a handshake, in :meth:`refuse`; this class calls ``check`` and
    stores the user.

    Args:
        check: Maps the credential to a user, or to :obj:`None` (or
            ``False``) to refuse it. It receives the credential as
            positional arguments: one token, or a username and a password
            for :class:`BasicAuth`.

    """

    def __init__(self, check: Check) -> None:
        self.check = check

    async def __call__(self, ws: Connection, request: Request) -> None:
        """Authenticate a handshake request; refuse it if that fails."""
        credential = self.credential(ws, request)
        if credential is None:
            raise self.refuse("Missing credentials.")
        user = self.check(*credential)
        if isinstance(user, Awaitable):
            user = await user
        if user is None or user is False:
            raise self.refuse("Invalid credentials.")
        ws.user = user

    @abstractmethod
    def credential(self, ws: Connection, request: Request) -> tuple[str, ...] | None:
        """Find the credential in the request; :obj:`None` if there's none."""

    def refuse(self, reason: str) -> HTTPException:
        """Make the exception that refuses the handshake: 403 by default."""
        return Forbidden(reason)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({describe(self.check)})"


def only(request: Request, name: str) -> str | None:
    """Read a header that may appear once; None if it is missing or repeated."""
    values = request.headers.get_all(name)
    return values[0] if len(values) == 1 else None


class QueryToken(Authenticator):
    """
    Authenticate with a token in the query string: ``/chat?token=...``.

    It suits browsers, which can't set headers on a WebSocket handshake. Give
    the page a short-lived token made for this purpose: URLs end up in
    proxies' access logs and in browser history.

    Args:
        check: Maps the token to a user, or to :obj:`None`.
        param: Name of the query parameter.

    """

    def __init__(self, check: Check, *, param: str = "token") -> None:
        super().__init__(check)
        self.param = param

    @override
    def credential(self, ws: Connection, request: Request) -> tuple[str] | None:
        token = ws.query.get(self.param)
        return (token,) if token else None


class CookieToken(Authenticator):
    """
    Authenticate with a cookie, such as the session cookie of the web app.

    It suits browsers when the WebSocket server shares a domain with the web
    app, since the browser sends the app's cookies with the handshake. It
    also sends them when a page of another site opens the WebSocket, so keep
    the app's Origin policy strict (see :class:`~wsroute.App`): wsroute warns
    when a route with cookie authentication allows any origin.

    Args:
        check: Maps the cookie's value to a user, or to :obj:`None`.
        name: Name of the cookie.

    """

    def __init__(self, check: Check, *, name: str = "session") -> None:
        super().__init__(check)
        self.name = name

    @override
    def credential(self, ws: Connection, request: Request) -> tuple[str] | None:
        cookies = parse_cookie("; ".join(request.headers.get_all("Cookie")))
        value = cookies.get(self.name)
        return (value,) if value else None


class BearerToken(Authenticator):
    """
    Authenticate with ``Authorization: Bearer <token>``, as APIs do.

    Browsers can't send this header with a WebSocket handshake; it's for
    other clients. A refusal is 401 with ``WWW-Authenticate: Bearer``.

    Args:
        check: Maps the token to a user, or to :obj:`None`.
        realm: Scope of protection, sent in the challenge.

    """

    def __init__(self, check: Check, *, realm: str | None = None) -> None:
        super().__init__(check)
        self.realm = realm

    @override
    def credential(self, ws: Connection, request: Request) -> tuple[str] | None:
        authorization = Authorization.from_header(only(request, "Authorization"))
        if authorization is None or authorization.type != "bearer":
            return None
        return (authorization.token,) if authorization.token else None

    @override
    def refuse(self, reason: str) -> HTTPException:
        parameters: dict[str, str | None] = {}
        if self.realm is not None:
            parameters["realm"] = self.realm
        return Unauthorized(
            reason, www_authenticate=WWWAuthenticate("bearer", parameters)
        )


class BasicAuth(Authenticator):
    """
    Authenticate with HTTP Basic Authentication: a username and a password.

    The header is parsed by websockets. A refusal is 401 with
    ``WWW-Authenticate: Basic``. ::

        def user_for(username: str, password: str) -> User | None:
            user = users.get(username)
            secret = password.encode("utf-8", "surrogateescape")
            if user and hmac.compare_digest(user.password, secret):
                return user
            return None

        app.add_handshake_hook(BasicAuth(user_for, realm="chat"))

    Args:
        check: Maps a username and a password to a user, or to :obj:`None`.
            Compare secrets with :func:`hmac.compare_digest`, as bytes: it
            refuses strings that aren't ASCII.
        realm: Scope of protection, sent in the challenge.

    """

    def __init__(self, check: Check, *, realm: str = "") -> None:
        super().__init__(check)
        self.realm = realm

    @override
    def credential(self, ws: Connection, request: Request) -> tuple[str, str] | None:
        authorization = only(request, "Authorization")
        if authorization is None:
            return None
        try:
            return parse_authorization_basic(authorization)
        except InvalidHeader:
            return None

    @override
    def refuse(self, reason: str) -> HTTPException:
        challenge = WWWAuthenticate("basic", {"realm": self.realm, "charset": "UTF-8"})
        return Unauthorized(reason, www_authenticate=challenge)


class SubprotocolToken(Authenticator):
    r"""
    Authenticate with a token carried in ``Sec-WebSocket-Protocol``.

    Browsers can't set ``Authorization`` on a WebSocket, but they send the
    subprotocols that the page asks for. The page asks for two: the
    application's subprotocol, and one that carries the token, encoded in
    base64url without padding after a fixed prefix, as Kubernetes does::

        const token = btoa(secret).replace(/\\+/g, "-").replace(/\\//g, "_")
                                  .replace(/=+$/, "");
        new WebSocket(url, ["chat", "base64url.bearer." + token]);

    The server answers with the application's subprotocol, never the one that
    holds the token, so the token isn't echoed back.

    Args:
        check: Maps the token to a user, or to :obj:`None`.
        subprotocol: The application's subprotocol, which the server selects.
        prefix: What comes before the encoded token.

    """

    def __init__(
        self, check: Check, *, subprotocol: str, prefix: str = "base64url.bearer."
    ) -> None:
        super().__init__(check)
        self.subprotocol = subprotocol
        self.prefix = prefix

    @override
    def credential(self, ws: Connection, request: Request) -> tuple[str] | None:
        offered = [
            value.strip()
            for header in request.headers.get_all("Sec-WebSocket-Protocol")
            for value in header.split(",")
        ]
        if self.subprotocol not in offered:
            return None
        for value in offered:
            if value.startswith(self.prefix):
                encoded = value.removeprefix(self.prefix)
                try:
                    token = base64.urlsafe_b64decode(
                        encoded + "=" * (-len(encoded) % 4)
                    ).decode()
                except (binascii.Error, UnicodeDecodeError):
                    return None
                return (token,) if token else None
        return None

    @override
    async def __call__(self, ws: Connection, request: Request) -> None:
        """Authenticate, then have websockets select the app's subprotocol."""
        await super().__call__(ws, request)
        ws.protocol.available_subprotocols = [Subprotocol(self.subprotocol)]


def cookie_routes_open_to_any_origin(rules: Iterable[Rule]) -> list[Route]:
    """
    Find routes that authenticate with a cookie and accept any origin.

    On such a route, any web page can open a WebSocket with the cookies of a
    user who visits it, and act as that user: the Origin check is what
    prevents it. An origin policy is taken as open to any origin when it
    allows one of a few origins made up for this test, or ``null``, which
    any page can send from a sandboxed iframe.

    """
    return [
        rule
        for rule in rules
        if isinstance(rule, Route)
        and any(isinstance(hook, CookieToken) for hook in rule.handshake_hooks)
        and any(
            pattern == origin if isinstance(pattern, str) else pattern.fullmatch(origin)
            for pattern in rule.origins
            for origin in MADE_UP_ORIGINS
        )
    ]


MADE_UP_ORIGINS = [
    "null",
    "http://attacker.invalid",
    "https://attacker.invalid",
    "https://wsroute-origin-probe.invalid:8443",
]


class FirstMessageToken:
    """
    Authenticate with a token in the first message, after the handshake.

    It suits browsers, and keeps the token out of URLs and headers. Register
    it as a connect hook; the token message is consumed, and the handler
    receives the messages that follow::

        app.on_connect(FirstMessageToken(user_for))

    The client sends ``{"token": "..."}`` first. If that message doesn't come
    within ``timeout`` seconds, isn't of that form, or ``check`` refuses the
    token, the connection closes with 1008 (policy violation) and a reason,
    and the handler doesn't run. It composes with
    :class:`~wsroute.dispatch.FirstMessageRouter`: the message after the token is the
    one that picks the handler.

    To authenticate on some routes only, await it at the start of their
    handlers: ``await FirstMessageToken(user_for)(ws)``.

    Args:
        check: Maps the token to a user, or to :obj:`None`.
        field: The field of the JSON object that holds the token; or
            :obj:`None` when the whole text message is the token.
        timeout: How long to wait for the first message, in seconds.

    """

    def __init__(
        self, check: Check, *, field: str | None = "token", timeout: float = 10
    ) -> None:
        self.check = check
        self.field = field
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({describe(self.check)})"

    async def __call__(self, ws: Connection) -> None:
        """Receive the token and authenticate; close the connection if that fails."""
        try:
            async with asyncio.timeout(self.timeout):
                message = await ws.recv()
        except TimeoutError:
            raise CloseConnection(reason="no credentials in time") from None
        token = self.token(message)
        if token is None:
            raise CloseConnection(reason="missing credentials")
        user = self.check(token)
        if isinstance(user, Awaitable):
            user = await user
        if user is None or user is False:
            raise CloseConnection(reason="invalid credentials")
        ws.user = user

    def token(self, message: Data) -> str | None:
        """Find the token in the first message; :obj:`None` if there's none."""
        if not isinstance(message, str):
            return None
        if self.field is None:
            return message or None
        try:
            decoded = codec.decode(message)
        except (ValueError, RecursionError):
            return None
        token = decoded.get(self.field) if isinstance(decoded, dict) else None
        return token if isinstance(token, str) and token else None
