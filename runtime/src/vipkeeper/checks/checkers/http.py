"""HTTP_GET / SSL_GET: fetch each url; the status must be in range and the body's MD5 match.

Request as keepalived sends it: `GET PATH HTTP/1.0`, `User-Agent: KeepAliveClient`, and
`Host:` set to the virtualhost (url, then checker, then real/virtual server), else the
real server's `address:port`. The body is read to EOF (or Content-Length).

SSL_GET follows keepalived 2.2.7, which never verifies the server: its context keeps
OpenSSL's SSL_VERIFY_NONE whatever the root `SSL` block says, so an untrusted, expired or
wrong-host certificate passes. The block's `ca` is loaded (a file that does not load fails
the check) and decides nothing; `certificate` with `key` (decrypted with `password`) is
offered when the server asks for a client certificate. SNI is sent only with `enable_sni`:
`sni_name`, else the url's virtualhost, the checker's, the virtual server's.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ssl

from vipkeeper._aiocompat import wait_for
from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.checks.checkers.result import CheckResult, Target
from vipkeeper.checks.checkers.sock import open_tcp
from vipkeeper.config.model import Config, HttpCheck, HttpUrl, SslDefs

MAX_BODY = 16 * 1024 * 1024
USER_AGENT = "KeepAliveClient"


@dataclass(frozen=True, **SLOTS)
class HttpResponse:
    """Status code and body of one fetch."""

    status: int
    body: bytes

    @property
    def md5(self) -> str:
        """Lowercase hex MD5 of the body (what `digest` and genhash compare)."""
        return hashlib.md5(self.body, usedforsecurity=False).hexdigest()


class SslSetupError(ValueError):
    """A file of the SSL block did not load (keepalived: `SSL error : Cant load ...`)."""


def client_context(defs: SslDefs | None = None) -> ssl.SSLContext:
    """A TLS client context that, like keepalived, never verifies the server.

    With the SSL block's files loaded as keepalived loads them; cached per block, so the
    files are read once per configuration (keepalived reads them at start and reload).
    """
    return _context(defs) if defs is not None else _context(SslDefs())


@functools.lru_cache(maxsize=8)
def _context(defs: SslDefs) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # keepalived never calls SSL_CTX_set_verify
    if defs.certificate is not None:
        if defs.key is not None:
            # keepalived's password callback; without a password an encrypted key must not
            # wait on a terminal prompt, so it fails to load (as keepalived's does, headless)
            password = defs.password if defs.password is not None else ""
            try:
                ctx.load_cert_chain(defs.certificate, defs.key, password)
            except (OSError, ssl.SSLError) as exc:
                raise SslSetupError(f"SSL error: cannot load certificate/key file: {exc}") from exc
        else:  # keepalived loads the certificate without a key: it is never offered
            try:
                with open(defs.certificate, encoding="latin-1") as fh:
                    ssl.PEM_cert_to_DER_cert(fh.read())
            except (OSError, ValueError) as exc:
                raise SslSetupError(f"SSL error: cannot load certificate file: {exc}") from exc
    elif defs.key is not None:  # a key with no certificate: read, never offered
        try:
            with open(defs.key, "rb"):
                pass
        except OSError as exc:
            raise SslSetupError(f"SSL error: cannot load key file: {exc}") from exc
    if defs.ca is not None:
        try:
            ctx.load_verify_locations(cafile=defs.ca)  # loaded; no verdict depends on it
        except (OSError, ssl.SSLError) as exc:
            raise SslSetupError(f"SSL error: cannot load CA file: {exc}") from exc
    return ctx


def ssl_setup_error(config: Config) -> str | None:
    """Why the SSL block's files do not load, when an SSL_GET checker needs them; else None.

    Called at start and reload: the files are read again (the cached contexts are dropped),
    as keepalived reads them then. keepalived stops when one does not load; vipkeeper logs
    this once, and its SSL_GET checks fail with the same reason.
    """
    _context.cache_clear()
    if config.ssl is None:
        return None
    needed = any(
        isinstance(c, HttpCheck) and c.ssl
        for vs in config.virtual_servers
        for rs in vs.real_servers
        for c in rs.checkers
    )
    if not needed:
        return None
    try:
        client_context(config.ssl)
    except SslSetupError as exc:
        return str(exc)
    return None


def build_request(path: str, host: str, protocol: str = "1.0") -> bytes:
    """The request bytes keepalived's HTTP checker sends."""
    version = "1.1" if protocol == "1.1" else "1.0"
    lines = [f"GET {path} HTTP/{version}", f"User-Agent: {USER_AGENT}", f"Host: {host}"]
    if protocol in ("1.0C", "1.1"):
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def http_fetch(
    target: Target,
    path: str,
    *,
    timeout: float,
    use_ssl: bool = False,
    tls: SslDefs | None = None,
    host: str | None = None,
    sni: str | None = None,
    protocol: str = "1.0",
) -> HttpResponse:
    """GET `path` from the target; raises OSError, TimeoutError or ValueError on failure."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    context = client_context(tls) if use_ssl else None
    sock = await open_tcp(target, timeout)
    try:
        reader, writer = await wait_for(
            asyncio.open_connection(
                sock=sock,
                ssl=context,
                server_hostname=(sni or "") if use_ssl else None,
            ),
            max(deadline - loop.time(), 0.001),
        )
    except BaseException:
        sock.close()
        raise
    try:
        host_header = host or (
            f"[{target.address}]:{target.port}"
            if target.address.version == 6
            else f"{target.address}:{target.port}"
        )
        writer.write(build_request(path, host_header, protocol))
        return await wait_for(_read_response(reader), max(deadline - loop.time(), 0.001))
    finally:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> HttpResponse:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0][:60]!r}")
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    # keepalived digests the bytes after the headers as they come (a chunked body with its
    # chunk lines), up to Content-Length; fewer bytes than announced only get logged there
    length = headers.get("content-length")
    limit = MAX_BODY
    if length is not None and length.isdigit():
        limit = min(int(length), MAX_BODY)
    body = bytearray()
    while len(body) < limit:
        more = await reader.read(limit - len(body))
        if not more:
            break
        body += more
    return HttpResponse(status, bytes(body))


def status_ok(status: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    """Whether `status` lies in one of the inclusive ranges."""
    return any(lo <= status <= hi for lo, hi in ranges)


async def check_url(check: HttpCheck, url: HttpUrl, target: Target, timeout: float) -> CheckResult:
    """Fetch one url and judge it."""
    vhost = url.virtualhost or check.virtualhost or target.virtualhost
    sni = None
    if check.ssl and check.enable_sni:  # keepalived skips the real server's virtualhost here
        sni = check.sni_name or url.virtualhost or check.sni_host
    try:
        resp = await http_fetch(
            target,
            url.path,
            timeout=timeout,
            use_ssl=check.ssl,
            tls=check.tls,
            host=vhost,
            sni=sni,
            protocol=check.http_protocol,
        )
    except TimeoutError:
        return CheckResult(False, f"{check.kind} {target.hostport}{url.path}: timed out")
    except (OSError, ValueError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
        return CheckResult(False, f"{check.kind} {target.hostport}{url.path}: {exc}")
    if not status_ok(resp.status, url.status_codes):
        return CheckResult(False, f"{check.kind} {target.hostport}{url.path}: status {resp.status}")
    if url.digest and resp.md5 != url.digest.lower():
        return CheckResult(
            False, f"{check.kind} {target.hostport}{url.path}: digest mismatch ({resp.md5})"
        )
    return CheckResult(True, f"status {resp.status}")


async def http_check(check: HttpCheck, target: Target, timeout: float) -> CheckResult:
    """Every url must pass (a check with no url fetches `/`)."""
    urls = check.urls or (HttpUrl(),)
    result = CheckResult(True)
    for url in urls:
        result = await check_url(check, url, target, timeout)
        if not result.ok:
            return result
    return result
