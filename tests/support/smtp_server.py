"""A real SMTP server (aiosmtpd) for the e-mail tests, on a free loopback port.

Usage: smtp_server.py CERT KEY USER PASSWORD
Prints "READY <port>" once listening, then one JSON line per accepted message:
{"mail_from", "rcpt_tos", "data", "tls", "auth"}. STARTTLS and AUTH (PLAIN, LOGIN) are
required, as on a real submission port. Stops when stdin closes (the test ended).
"""
import asyncio
import json
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cert, key, user, password = sys.argv[1:5]


class Record:
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
            "auth": session.authenticated,
        }), flush=True)
        return "250 Message accepted for delivery"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() \
        and auth_data.password == password.encode()
    # handled=False: aiosmtpd itself answers 535 on failure.
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]

controller = Controller(
    Record(), hostname="127.0.0.1", port=port, server_hostname="localhost",
    tls_context=context, require_starttls=True,
    authenticator=authenticate, auth_required=True, auth_require_tls=True,
)
controller.start()
print(f"READY {port}", flush=True)
sys.stdin.read()
controller.stop()
