"""smtp_sink.py - a local SMTP server for the e-mail tests (run it with
/usr/bin/python3: it needs Debian's python3-aiosmtpd).

    /usr/bin/python3 smtp_sink.py PORT CERT KEY USER PASSWORD

Listens on 127.0.0.1:PORT, offers STARTTLS (CERT, KEY) and requires it, and
requires AUTH as USER/PASSWORD. Prints {"port": PORT} once it accepts, then
one JSON line per message received ({"from", "to", "data", "user"}); stops
when its standard input closes.
"""
import json
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password = sys.argv[1:6]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                          "data": envelope.content.decode("utf-8", "replace"),
                          "user": getattr(session, "auth_data", None) and
                          session.auth_data.login.decode()}), flush=True)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and
          auth_data.password == password.encode())
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
c = Controller(Handler(), hostname="127.0.0.1", port=int(port), tls_context=ctx,
               require_starttls=True, authenticator=authenticator, auth_required=True,
               auth_require_tls=True)
c.start()
print(json.dumps({"port": c.port}), flush=True)
sys.stdin.read()
c.stop()
