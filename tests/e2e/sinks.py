"""Where Alertmanager's notifications land in the end-to-end test: an SMTP and an HTTP sink.

Both listen on 127.0.0.1, run in a background thread, and keep everything they receive in
arrival order with a ``time.monotonic()`` stamp, so a test can ask "what arrived after t":

- :class:`SmtpSink`: aiosmtpd accepting any mail, offering AUTH (LOGIN, PLAIN) without TLS
  and recording the login and password a client used, so the test sees Alertmanager read
  its password file.
- :class:`HttpSink`: answers every POST with 200 ``ok`` (what Slack's webhook answers) and
  records path, headers and JSON body: Slack, Discord's Slack endpoint, webhooks.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.ports import free_tcp_port

__all__ = ["HttpRequest", "HttpSink", "Mail", "SmtpSink"]


@dataclass(frozen=True)
class Mail:
    """One message as the sink received it."""

    at: float
    mail_from: str
    rcpt_tos: list[str]
    login: str | None
    password: str | None
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def body(self) -> str:
        """The decoded text of every text part (Alertmanager sends HTML, optionally text)."""
        parts = [
            part.get_content()
            for part in self.message.walk()
            if part.get_content_maintype() == "text"
        ]
        return "\n".join(str(p) for p in parts)


_AIOSMTPD_LOG = logging.getLogger("mail.log")


def _drop_login_data_warning(record: logging.LogRecord) -> bool:
    """aiosmtpd 1.4 warns on every AUTH that it sets its own deprecated Session.login_data."""
    return "login_data is deprecated" not in record.getMessage()


class _Server(SMTP):
    """aiosmtpd's SMTP with the LOGIN challenges mail servers send (``Username:``,
    ``Password:``); Alertmanager's LOGIN client refuses aiosmtpd's own (``User Name``)."""

    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _Server(self.handler, **self.SMTP_kwargs)


class _Authenticator:
    """Accept every login, remember it per session (aiosmtpd's ``authenticator`` hook)."""

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        return AuthResult(success=True, auth_data=auth_data)


@dataclass
class _Handler:
    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        login = password = None
        if isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
            password = session.auth_data.password.decode()
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        mail = Mail(
            at=time.monotonic(),
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            login=login,
            password=password,
            message=message,
        )
        with self.lock:
            self.mails.append(mail)
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd on 127.0.0.1:<free port>; ``mails()`` lists what arrived."""

    def __init__(self) -> None:
        self._handler = _Handler()
        self.host = "127.0.0.1"
        self.port = free_tcp_port(self.host)
        self._controller = _Controller(
            self._handler,
            hostname=self.host,
            port=self.port,
            authenticator=_Authenticator(),
            auth_require_tls=False,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def mails(self) -> list[Mail]:
        with self._handler.lock:
            return list(self._handler.mails)

    def start(self) -> SmtpSink:
        _AIOSMTPD_LOG.addFilter(_drop_login_data_warning)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
        _AIOSMTPD_LOG.removeFilter(_drop_login_data_warning)


@dataclass(frozen=True)
class HttpRequest:
    """One POST as the sink received it."""

    at: float
    path: str
    headers: dict[str, str]
    body: Any


class HttpSink:
    """A threaded HTTP server on 127.0.0.1:<free port> recording every POST."""

    def __init__(self) -> None:
        self._requests: list[HttpRequest] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                request = HttpRequest(time.monotonic(), self.path, dict(self.headers), body)
                with sink._lock:
                    sink._requests.append(request)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test asserts on what arrived, not on access logs."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests(self, path: str | None = None) -> list[HttpRequest]:
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def start(self) -> HttpSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
