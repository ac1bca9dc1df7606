#!/usr/bin/python3
"""A submission server for the tests (aiosmtpd, loopback only).

    smtp_server.py --port N --dir SPOOL [--tls none|starttls|offer|implicit]
        [--host smtp.example.com] [--pki DIR] [--user U --password P]
        [--senders a@x,b@y] [--refuse-prefix refuse] [--drop]
        [--close-after-message]
        [--stall-at greeting|mail|data --stall SECS] [--no-spool]
        [--mode-file PATH] [--lifetime 600]

Checks what a real submission server checks: STARTTLS before anything
else when --tls starttls (aiosmtpd's require_starttls), AUTH before MAIL
when --user is given (--tls offer: STARTTLS offered, not required, and
each message's record says whether its session was encrypted), the
password itself, AUTH only over TLS when
--tls implicit (the port is TLS from the first byte), and, as QQ Mail and
other providers do, a MAIL FROM of the authenticated user among --senders
only (default blueking@example.com; others get 553).  What it received goes to
SPOOL/NNN.eml (the DATA bytes, dot-unstuffed, exactly as sent) with the
envelope in SPOOL-env/NNN.json; events (a session's first EHLO, each
AUTH and its outcome) are one file each in SPOOL-events/.  Recipients
starting with the refuse prefix get 550.
--drop closes the connection after the data without answering it;
--close-after-message answers 250 and then closes (a server's idle
timeout, the trap of a reused connection); --stall waits before the
greeting, the MAIL reply or the DATA reply, and records the events
"stall begins" and "stall ended" so a test can tell the client gave up
first.  --mode-file names a file read at each RCPT: "tempfail" answers
451 (try again later), "flap" 451 to every other recipient, "down" 421
and a closed connection, "tempfail:PREFIX" 451 to the recipients
starting with PREFIX only, "reply:CODE:PREFIX" CODE (any 4xx or 5xx,
e.g. the edge 400) to the recipients starting with PREFIX only,
"datafail" takes every RCPT and answers 554 after the message (a
content filter's refusal), anything else (or no file) as usual.  The
certificate comes from
pki.py's CA in --pki; point --pki at a directory of its own to get a
CA the gateway does not know.  Never prints the password.
"""
import argparse
import asyncio
import json
import os
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402

from aiosmtpd.smtp import SMTP, AuthResult  # noqa: E402


def args_parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--tls", choices=("none", "starttls", "offer",
                                      "implicit"),
                    default="none")
    ap.add_argument("--host", default="smtp.example.com")
    ap.add_argument("--pki")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--senders", default="blueking@example.com")
    ap.add_argument("--refuse-prefix", default="refuse")
    ap.add_argument("--drop", action="store_true")
    ap.add_argument("--close-after-message", action="store_true")
    ap.add_argument("--stall-at", choices=("greeting", "mail", "data"))
    ap.add_argument("--stall", type=float, default=30)
    ap.add_argument("--no-spool", action="store_true")
    ap.add_argument("--mode-file")
    ap.add_argument("--lifetime", type=float, default=600)
    return ap.parse_args()


A = args_parse()
SEQ = [0]
SEQ_LOCK = threading.Lock()


def next_name():
    with SEQ_LOCK:
        SEQ[0] += 1
        return "%d-%05d" % (time.time_ns(), SEQ[0])


def conn_log(line):
    """One file per event in SPOOL-events/, so cases can count them."""
    with open(os.path.join(A.dir + "-events", next_name()), "w") as f:
        f.write(line + "\n")


def is_tls(server):
    t = server.transport
    return t is not None and t.get_extra_info("ssl_object") is not None


def authenticator(server, session, envelope, mechanism, auth_data):
    # handled=False, or aiosmtpd sends no reply at all.
    ok = (auth_data is not None and A.user is not None and
          auth_data.login == A.user.encode() and
          auth_data.password == A.password.encode() and
          (A.tls != "implicit" or is_tls(server)))
    conn_log("auth %s %s tls=%s" % (mechanism, "ok" if ok else "refused",
                                    "yes" if is_tls(server) else "no"))
    if ok:
        session.fake_auth = {"user": A.user, "mechanism": mechanism,
                             "tls": is_tls(server)}
    return AuthResult(success=ok, handled=False)


async def stall():
    conn_log("stall begins")
    await asyncio.sleep(A.stall)
    conn_log("stall ended")


FLAP = [False]


def read_mode():
    if A.mode_file:
        try:
            with open(A.mode_file) as f:
                return f.read().strip()
        except OSError:
            pass
    return ""


class Handler:
    async def handle_MAIL(self, server, session, envelope, address, options):
        if A.stall_at == "mail":
            await stall()
        senders = [x.strip().lower() for x in A.senders.split(",")]
        if getattr(session, "fake_auth", None) and \
                address.lower() not in senders:
            conn_log("mail from %s refused" % address)
            return "553 5.7.1 <%s>: mail from address must be same as " \
                "authorization user" % address
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        mode = read_mode()
        if mode.startswith("reply:"):
            code, _, prefix = mode[len("reply:"):].partition(":")
            if address.lower().startswith(prefix):
                return "%s %s.0.0 <%s>: refused as told" % (
                    code, code[0], address)
            mode = ""
        if mode.startswith("tempfail:"):
            mode = "tempfail" if address.lower().startswith(
                mode[len("tempfail:"):]) else ""
        if mode == "flap":
            FLAP[0] = not FLAP[0]
            mode = "tempfail" if FLAP[0] else ""
        if mode == "tempfail":
            return "451 4.3.0 <%s>: try again later" % address
        if mode == "down":
            asyncio.get_running_loop().call_later(0.01, server.transport.close)
            return "421 4.3.2 service not available"
        if address.lower().startswith(A.refuse_prefix):
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if read_mode() == "datafail":
            conn_log("data refused")
            return "554 5.7.1 message content rejected"
        if A.drop:
            server.transport.close()
            return "421 4.3.0 never seen"
        if A.stall_at == "data":
            await stall()
        if not A.no_spool:
            name = next_name()
            with open(os.path.join(A.dir, name + ".eml"), "wb") as f:
                f.write(envelope.original_content)
            env = {"mail_from": envelope.mail_from,
                   "mail_options": envelope.mail_options,
                   "rcpt_tos": envelope.rcpt_tos,
                   "auth": getattr(session, "fake_auth", None),
                   "tls": is_tls(server)}
            with open(os.path.join(A.dir + "-env", name + ".json"), "w") as f:
                json.dump(env, f)
        if A.close_after_message:
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
        return "250 2.0.0 OK queued"


class FakeSMTP(SMTP):
    counted = False

    async def _handle_client(self):
        if A.stall_at == "greeting":
            await stall()
        await super()._handle_client()

    async def smtp_EHLO(self, hostname):
        if not self.counted:
            self.counted = True
            conn_log("connection tls=%s" % ("yes" if is_tls(self) else "no"))
        await super().smtp_EHLO(hostname)


def tls_context():
    d = A.pki or os.path.join(A.dir + "-pki")
    os.makedirs(d, exist_ok=True)
    pki.make_ca(d)
    if A.tls == "none":
        return None
    cert, key = pki.make_leaf(d, [A.host])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def main():
    os.makedirs(A.dir, exist_ok=True)
    os.makedirs(A.dir + "-env", exist_ok=True)
    os.makedirs(A.dir + "-events", exist_ok=True)
    ctx = tls_context()
    kw = {"hostname": A.host, "data_size_limit": 64 * 1024 * 1024,
          "enable_SMTPUTF8": True, "timeout": 60}
    if A.user is not None:
        kw.update(authenticator=authenticator, auth_required=True)
    if A.tls == "starttls":
        kw.update(tls_context=ctx, require_starttls=True,
                  auth_require_tls=True)
    elif A.tls == "offer":
        kw.update(tls_context=ctx, require_starttls=False,
                  auth_require_tls=False)
    else:
        # Implicit TLS: aiosmtpd cannot tell the session is encrypted.
        kw.update(auth_require_tls=False)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # Port probes and refused handshakes are expected, not news.
    loop.set_exception_handler(lambda lp, c: None)
    handler = Handler()
    srv = loop.run_until_complete(loop.create_server(
        lambda: FakeSMTP(handler, loop=loop, **kw), "127.0.0.1", A.port,
        ssl=ctx if A.tls == "implicit" else None))
    loop.call_later(A.lifetime, loop.stop)
    print("smtp fake on 127.0.0.1:%d tls=%s" % (A.port, A.tls), flush=True)
    try:
        loop.run_forever()
    finally:
        srv.close()


if __name__ == "__main__":
    main()
