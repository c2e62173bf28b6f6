"""SSL_GET against real TLS servers in namespaces, with certificates made by `openssl` here.

keepalived 2.2.7 never verifies an SSL_GET server (its SSL_CTX keeps SSL_VERIFY_NONE): a
certificate signed by the SSL block's `ca`, by another CA, expired or for another host all
pass. Its SSL block's `certificate` + `key` (+ `password`) is the client certificate. It has no
TLS version keyword: OpenSSL's defaults apply. SNI only with `enable_sni`. Each is checked
here on vipkeeper, and the verification verdicts on keepalived 2.2.7's own SSL code too
(its genhash builds the same SSL context as its checker, check_ssl.c).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

import pytest
from lvs.nsthread import NsThread
from netlab import NetLab, Node, stop_process, wait_for

from vipkeeper.checks.checkers import Target, run_check
from vipkeeper.config import load_text
from vipkeeper.config.model import HttpCheck, HttpUrl, SslDefs, TcpCheck

HERE = Path(__file__).parent
TLSSERVER = str(HERE / "tlsserver.py")
RS = ip_address("10.213.2.11")
PASSWORD = "s3cret pass"
BODY_MD5 = hashlib.md5(b"tls ok", usedforsecurity=False).hexdigest()  # tlsserver.py's body


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd)


@dataclass
class Pki:
    """The files this test's certificates live in."""

    dir: Path

    def path(self, name: str) -> str:
        return str(self.dir / name)


CA_CNF = """[ca]
default_ca = here
[here]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
"""


def _ca(pki: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}", cwd=pki)  # fmt: skip


def _cert(pki: Path, name: str, cn: str, ca: str, *dates: str, encrypt: bool = False) -> None:
    """A certificate for `cn` (also its DNS SAN) signed by `ca`; `dates`: -startdate/-enddate."""
    key = ["-passout", f"pass:{PASSWORD}"] if encrypt else ["-nodes"]
    _openssl("req", "-newkey", "rsa:2048", *key, "-keyout", f"{name}.key", "-out",
             f"{name}.csr", "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
             cwd=pki)  # fmt: skip
    validity = list(dates) or ["-days", "2"]
    _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", f"{ca}.pem", "-keyfile",
             f"{ca}.key", "-in", f"{name}.csr", "-out", f"{name}.pem", "-notext", *validity,
             cwd=pki)  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Two CAs; server certificates good, untrusted, expired, for another host; a client's."""
    d = tmp_path_factory.mktemp("pki")
    (d / "ca.cnf").write_text(CA_CNF)
    (d / "index.txt").write_text("")
    (d / "serial").write_text("01\n")
    _ca(d, "ca1")
    _ca(d, "ca2")
    _cert(d, "good", "rs.test", "ca1")
    _cert(d, "untrusted", "rs.test", "ca2")
    _cert(d, "expired", "rs.test", "ca1", "-startdate", "20200101000000Z",
          "-enddate", "20200102000000Z")  # fmt: skip
    _cert(d, "otherhost", "other.test", "ca1")
    _cert(d, "client", "vipkeeper-client", "ca1")
    _cert(d, "clientenc", "vipkeeper-client-enc", "ca1", encrypt=True)
    return Pki(d)


class TlsLab:
    """A director namespace and a real server whose TLS servers log every handshake."""

    def __init__(self, lab: NetLab, pki: Pki) -> None:
        self.lab, self.pki = lab, pki
        self.director = lab.add_node("dir", addrs=["10.213.2.1/24"])
        self.rs: Node = lab.add_node("rs", addrs=[f"{RS}/24"])
        self.ns = NsThread(self.director.ns)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: dict[int, Path] = {}

    def serve(self, port: int, cert: str, *extra: str) -> None:
        log = Path(self.lab.workdir) / f"tls-{port}.log"
        log.write_text("")
        self.logs[port] = log
        argv = [TLSSERVER, str(port), self.pki.path(f"{cert}.pem"), self.pki.path(f"{cert}.key")]
        self.procs.append(self.rs.popen([sys.executable, *argv, str(log), *extra]))
        up = wait_for(lambda: self.ns.run(run_check(TcpCheck(), Target(RS, port))).ok, 10)
        assert up, f"TLS server on {port} did not start"
        # forget the TCP probe's aborted handshake, once the server has logged it
        assert wait_for(log.read_text, 3), f"TLS server on {port} logged no probe"
        log.write_text("")

    def handshakes(self, port: int) -> list[dict[str, str | None]]:
        lines = self.logs[port].read_text().splitlines()
        return [json.loads(line) for line in lines]

    def last(self, port: int) -> dict[str, str | None]:
        """The server's record of the latest handshake (waiting a moment for it)."""
        assert wait_for(lambda: self.handshakes(port), 3), f"no handshake on {port}"
        return self.handshakes(port)[-1]

    def check(self, checker: HttpCheck, port: int) -> tuple[bool, str]:
        self.logs[port].write_text("")
        r = self.ns.run(run_check(checker, Target(RS, port)))
        return r.ok, r.detail

    def genhash(self, port: int, *extra: str) -> str:
        """keepalived 2.2.7's genhash over TLS (its checker's SSL code, autogen context).

        What it prints: the body's MD5 when the fetch worked."""
        self.logs[port].write_text("")
        argv = ["genhash", "-S", "-s", str(RS), "-p", str(port), "-u", "/", "-t", "3", *extra]
        res = self.director.run(argv, check=False, timeout=30)
        return (res.stdout + res.stderr).strip()

    def close(self) -> None:
        for proc in self.procs:
            stop_process(proc)
        self.ns.close()


@pytest.fixture
def tls(lab: NetLab, pki: Pki) -> Iterator[TlsLab]:
    t = TlsLab(lab, pki)
    try:
        yield t
    finally:
        t.close()


def ssl_get(ssl: SslDefs | None = None, **kw: object) -> HttpCheck:
    """An SSL_GET of `/` (the body's digest checked) with a 2 s timeout."""
    base: dict[str, object] = {
        "kind": "SSL_GET",
        "ssl": True,
        "connect_timeout": 2.0,
        "urls": (HttpUrl(path="/", digest=BODY_MD5),),
    }
    return HttpCheck(tls=ssl, **{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.netns
@pytest.mark.keepalived
def test_no_certificate_is_verified(tls: TlsLab) -> None:
    """With `ca` set to the CA that signed the good one, every certificate still passes."""
    ports = {"good": 8441, "untrusted": 8442, "expired": 8443, "otherhost": 8444}
    for name, port in ports.items():
        tls.serve(port, name)
    with_ca = SslDefs(ca=tls.pki.path("ca1.pem"))
    for name, port in ports.items():
        for conf in (with_ca, None):
            checker = ssl_get(conf, virtualhost="rs.test", enable_sni=True, sni_host="rs.test")
            ok, why = tls.check(checker, port)
            assert ok, f"{name} (SSL block {conf}): {why}"
            assert tls.last(port)["sni"] == "rs.test"
        # keepalived 2.2.7 agrees: its genhash (the same SSL_CTX set-up) prints a digest
        assert tls.genhash(port) == BODY_MD5, name


@pytest.mark.netns
def test_ca_file_that_does_not_load_fails_the_check(tls: TlsLab) -> None:
    tls.serve(8441, "good")
    ok, why = tls.check(ssl_get(SslDefs(ca=tls.pki.path("missing-ca.pem"))), 8441)
    assert not ok and why.endswith(
        ": SSL error: cannot load CA file: [Errno 2] No such file or directory"
    ), why
    assert tls.handshakes(8441) == [], "no connection is made without a context"
    not_pem = tls.pki.path("index.txt")  # a file that holds no certificate
    ok, why = tls.check(ssl_get(SslDefs(ca=not_pem)), 8441)
    assert not ok and "CA file" in why, why


@pytest.mark.netns
def test_client_certificate(tls: TlsLab) -> None:
    """A server that requires a client certificate signed by ca1."""
    tls.serve(8445, "good", "--client-ca", tls.pki.path("ca1.pem"))
    client = SslDefs(certificate=tls.pki.path("client.pem"), key=tls.pki.path("client.key"))
    ok, why = tls.check(ssl_get(client), 8445)
    assert ok, why
    assert tls.last(8445)["client"] == "vipkeeper-client"
    # no SSL block, or a certificate without its key: none is offered, the server refuses
    for conf in (None, SslDefs(certificate=tls.pki.path("client.pem"))):
        ok, why = tls.check(ssl_get(conf), 8445)
        assert not ok, f"{conf}: {why}"
        assert tls.last(8445).get("client") is None, tls.handshakes(8445)
    # an encrypted key: `password` decrypts it; without it the key does not load
    enc = SslDefs(certificate=tls.pki.path("clientenc.pem"), key=tls.pki.path("clientenc.key"))
    ok, why = tls.check(ssl_get(SslDefs(**{**_fields(enc), "password": PASSWORD})), 8445)
    assert ok, why
    assert tls.last(8445)["client"] == "vipkeeper-client-enc"
    ok, why = tls.check(ssl_get(enc), 8445)
    assert not ok and "certificate/key" in why, why
    ok, why = tls.check(ssl_get(SslDefs(**{**_fields(enc), "password": "wrong"})), 8445)
    assert not ok and "certificate/key" in why, why


def _fields(d: SslDefs) -> dict[str, str | None]:
    return {"ca": d.ca, "certificate": d.certificate, "key": d.key, "password": d.password}


@pytest.mark.netns
@pytest.mark.keepalived
def test_tls_versions_are_openssl_defaults(tls: TlsLab) -> None:
    """No keyword limits versions: TLS 1.2 and 1.3 pass; a TLS 1.1-only server fails (2.2.7 too)."""
    tls.serve(8446, "good", "--max", "TLSv1_2")
    tls.serve(8447, "good", "--min", "TLSv1_3")
    tls.serve(8448, "good", "--max", "TLSv1_1")
    for port, version in ((8446, "TLSv1.2"), (8447, "TLSv1.3")):
        ok, why = tls.check(ssl_get(), port)
        assert ok, why
        assert tls.last(port)["version"] == version
        assert tls.genhash(port) == BODY_MD5, port
    ok, why = tls.check(ssl_get(), 8448)
    assert not ok, why
    assert "error" in tls.last(8448), "the server saw no failed handshake"
    out = tls.genhash(8448)
    assert BODY_MD5 not in out, out
    assert "error" in tls.last(8448), "genhash made no handshake"


@pytest.mark.netns
@pytest.mark.keepalived
def test_sni(tls: TlsLab) -> None:
    """SNI only with enable_sni: sni_name, else the url's, checker's, virtual server's host."""
    tls.serve(8449, "good")

    def sni_of(checker: HttpCheck) -> str | None:
        ok, why = tls.check(checker, 8449)
        assert ok, why
        return tls.last(8449)["sni"]

    assert sni_of(ssl_get(virtualhost="rs.test")) is None
    assert sni_of(ssl_get(virtualhost="rs.test", enable_sni=True, sni_host="rs.test")) == "rs.test"
    assert sni_of(ssl_get(enable_sni=True, sni_name="named.test", sni_host="rs.test")) == (
        "named.test"
    )
    # from a config: the real server's virtualhost is sent in Host: but never as SNI
    for vs_host, rs_host, want in (
        ("vs.test", "rs.test", "vs.test"),
        (None, "rs.test", None),
        ("vs.test", None, "vs.test"),
    ):
        checker = _configured(vs_host, rs_host)
        assert sni_of(checker) == want, (vs_host, rs_host)
    # keepalived's genhash sends its -V virtualhost as SNI with -I, and none without
    assert tls.genhash(8449, "-V", "g.test", "-I") == BODY_MD5
    assert tls.last(8449)["sni"] == "g.test"
    assert tls.genhash(8449, "-V", "g.test") == BODY_MD5
    assert tls.last(8449)["sni"] is None


def _configured(vs_host: str | None, rs_host: str | None) -> HttpCheck:
    vs_line = f"    virtualhost {vs_host}\n" if vs_host else ""
    rs_line = f"        virtualhost {rs_host}\n" if rs_host else ""
    text = (
        f"virtual_server {RS} 8449 {{\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n"
        f"{vs_line}    real_server {RS} 8449 {{\n{rs_line}        SSL_GET {{\n"
        "            enable_sni\n            connect_timeout 2\n"
        "            url {\n                path /\n            }\n        }\n    }\n}\n"
    )
    res = load_text(text)
    assert res.config is not None and res.ok, [d.format() for d in res.diagnostics]
    checker = res.config.virtual_servers[0].real_servers[0].checkers[0]
    assert isinstance(checker, HttpCheck)
    return checker


def test_ssl_block_reaches_ssl_get_checkers_only() -> None:
    """The root SSL block, wherever it is in the file, is on every SSL_GET and no HTTP_GET."""
    service = (
        "virtual_server 10.213.2.20 443 {\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n"
        "    real_server 10.213.2.11 443 {\n        SSL_GET {\n            url {\n"
        "                path /\n            }\n        }\n        HTTP_GET {\n"
        "            connect_port 80\n            url {\n                path /\n"
        "            }\n        }\n    }\n}\n"
    )
    block = "SSL {\n    ca /etc/ca.pem\n    certificate /etc/c.pem\n    key /etc/k.pem\n}\n"
    for text in (block + service, service + block):
        res = load_text(text)
        assert res.config is not None and res.ok, [d.format() for d in res.diagnostics]
        ssl_check, http_check = res.config.virtual_servers[0].real_servers[0].checkers
        assert isinstance(ssl_check, HttpCheck) and isinstance(http_check, HttpCheck)
        assert ssl_check.tls == res.config.ssl
        assert ssl_check.tls == SslDefs(
            ca="/etc/ca.pem",
            certificate="/etc/c.pem",
            key="/etc/k.pem",
            location=ssl_check.tls.location if ssl_check.tls else None,
        )
        assert http_check.tls is None


@pytest.mark.netns
@pytest.mark.keepalived
def test_digest_is_keepalived_s(tls: TlsLab) -> None:
    """The MD5 of the bytes after the headers: chunk lines included, up to Content-Length.

    keepalived 2.2.7's genhash prints the digest its checker compares; vipkeeper's must be it.
    """
    tls.serve(8450, "good", "--chunked")
    tls.serve(8451, "good", "--short")
    chunked = hashlib.md5(b"6\r\ntls ok\r\n0\r\n\r\n", usedforsecurity=False).hexdigest()
    for port, want in ((8450, chunked), (8451, BODY_MD5)):
        assert tls.genhash(port) == want, port
        ok, why = tls.check(ssl_get(urls=(HttpUrl(path="/", digest=want),)), port)
        assert ok, why
        ok, why = tls.check(ssl_get(urls=(HttpUrl(path="/", digest="0" * 32),)), port)
        assert not ok and f"digest mismatch ({want})" in why, why


def test_ssl_files_are_read_at_start_and_reload(pki: Pki, tmp_path: Path) -> None:
    """ssl_setup_error (the LVS manager's start/reload check) reads the files again."""
    from vipkeeper.checks.checkers.http import SslSetupError, client_context, ssl_setup_error

    ca = tmp_path / "ca.pem"
    ca.write_bytes(Path(pki.path("ca1.pem")).read_bytes())
    service = (
        "virtual_server 10.213.2.20 443 {\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n"
        "    real_server 10.213.2.11 443 {\n        %s {\n            url {\n"
        "                path /\n            }\n        }\n    }\n}\n"
    )
    block = f"SSL {{\n    ca {ca}\n}}\n"
    res = load_text(block + service % "SSL_GET")
    assert res.config is not None and res.config.ssl is not None
    config, defs = res.config, res.config.ssl
    assert ssl_setup_error(config) is None
    ca.write_text("not a certificate\n")
    client_context(defs)  # the context of this configuration is kept until a reload...
    why = ssl_setup_error(config)  # ...which reads the file again
    assert why is not None and why.startswith("SSL error: cannot load CA file: "), why
    with pytest.raises(SslSetupError, match="CA file"):
        client_context(defs)
    # no SSL_GET checker: keepalived builds no context, so nothing to load
    http_only = load_text(block + service % "HTTP_GET").config
    assert http_only is not None and ssl_setup_error(http_only) is None
    ca.write_bytes(Path(pki.path("ca1.pem")).read_bytes())
    assert ssl_setup_error(config) is None
