#!/usr/bin/python3
"""A throwaway PKI for the fakes: one CA and leaf certificates for the real
API host names, made with the openssl command line.  The gateway trusts
the CA through upstream.ca_file; nothing else does.

    pki.py DIR HOST...   ->  DIR/ca.pem DIR/ca.key DIR/<first host>.pem/.key
    pki.py --rogue DIR HOST...  a second, unknown CA (must be refused)

The HTTPS fakes make their listening server with tls_server().
"""
import os
import ssl
import subprocess
import sys


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_ca(d, name="cmsi-test-ca"):
    key, pem = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    if not os.path.exists(pem):
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", key, "-out", pem, "-days", "2", "-subj", "/CN=" + name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return pem, key


def make_leaf(d, hosts):
    """A certificate for hosts signed by d's CA; returns (cert, key)."""
    ca, cakey = make_ca(d)
    base = os.path.join(d, hosts[0])
    if os.path.exists(base + ".pem"):
        return base + ".pem", base + ".key"
    ext = base + ".ext"
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join(
            ("IP:" if h[0].isdigit() else "DNS:") + h for h in hosts) + "\n")
        f.write("extendedKeyUsage=serverAuth\n")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
        base + ".key", "-out", base + ".csr", "-subj", "/CN=" + hosts[0])
    run("openssl", "x509", "-req", "-in", base + ".csr", "-CA", ca,
        "-CAkey", cakey, "-CAcreateserial", "-out", base + ".pem",
        "-days", "2", "-extfile", ext)
    return base + ".pem", base + ".key"


def tls_server(cls, port, handler, d, hosts):
    """A cls (a socketserver class) listening on 127.0.0.1:port behind TLS,
    with a certificate for hosts signed by d's CA.  The certificate is
    made before the port opens: the harness takes an open port to mean
    that the fake is ready and that the CA the gateway trusts exists."""
    cert, key = make_leaf(d, hosts)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = cls(("127.0.0.1", port), handler)
    # The handshake happens in the connection's thread, not in accept().
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                 do_handshake_on_connect=False)
    return srv


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--rogue":
        args = args[1:]
    os.makedirs(args[0], exist_ok=True)
    print(*make_leaf(args[0], args[1:]))
