#!/usr/bin/python3
"""A hostile SMTP server, plain TCP on 127.0.0.1, for the gateway's
tests.  The mode is read from DIR/mode at each connection:

    early250   answers 250 to DATA (not 354), before any message text
    bigreply   answers EHLO with a 1 MB multi-line reply
    silent     accepts and never greets
    trickle    greets one byte a second
    reject     answers 250 to everything but 554 after the message

Loops are bounded by --max-secs; the server ends after --lifetime.
"""
import argparse
import os
import socket
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--max-secs", type=float, default=60)
ap.add_argument("--lifetime", type=float, default=600)
A = ap.parse_args()


def mode():
    try:
        with open(os.path.join(A.dir, "mode")) as f:
            return f.read().strip()
    except OSError:
        return "reject"


def session(c):
    m = mode()
    end = time.time() + A.max_secs
    c.settimeout(A.max_secs)
    f = c.makefile("rb")
    try:
        if m == "silent":
            while time.time() < end:
                if not c.recv(4096):
                    return
            return
        if m == "trickle":
            for b in b"220 slow.example ESMTP\r\n":
                if time.time() > end:
                    return
                c.sendall(bytes([b]))
                time.sleep(1)
        else:
            c.sendall(b"220 hostile.example ESMTP\r\n")
        in_data = False
        while time.time() < end:
            line = f.readline(65536)
            if not line:
                return
            if in_data:
                if line in (b".\r\n", b".\n"):
                    in_data = False
                    c.sendall(b"554 5.7.1 rejected after all\r\n")
                continue
            cmd = line[:4].upper()
            if cmd in (b"EHLO", b"HELO"):
                if m == "bigreply":
                    filler = b"250-" + b"x" * 996 + b"\r\n"
                    c.sendall(filler * 1024 + b"250 OK\r\n")
                else:
                    c.sendall(b"250-hostile.example\r\n250 8BITMIME\r\n")
            elif cmd == b"DATA":
                if m == "early250":
                    c.sendall(b"250 2.0.0 queued before you said anything\r\n")
                else:
                    c.sendall(b"354 go ahead\r\n")
                    in_data = True
            elif cmd == b"QUIT":
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"250 OK\r\n")
    except OSError:
        pass
    finally:
        c.close()


def main():
    os.makedirs(A.dir, exist_ok=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", A.port))
    s.listen(16)
    s.settimeout(1)
    print("hostile smtp on 127.0.0.1:%d" % A.port, flush=True)
    end = time.time() + A.lifetime
    while time.time() < end:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=session, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
