"""Encryption in transit: ``sslmode=verify-full`` and its CA file through every path that connects.

The module starts a PostgreSQL of its own that accepts TLS connections only, with a CA and a
server certificate generated here; a second CA, which signed nothing, must be refused in one line.
The ``pgserver`` wheel's build has no OpenSSL, so the server comes from an installed PostgreSQL
built with it (``pg_config`` on the PATH); without one the module is skipped and says why.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fraud.bulk import copy_arrow, copy_out_table
from fraud.cli import main
from fraud.db import (
    DatabaseError,
    create_database,
    create_warehouse_engine,
    one_line_errors,
    sqlalchemy_url,
)
from fraud.local.environment import derive_urls

pytestmark = pytest.mark.integration

_IS_TLS = "select ssl from pg_stat_ssl where pid = pg_backend_pid()"
# Every session of a database, and whether each is encrypted (MLflow keeps its own pool).
_SESSIONS_OF = """
select activity.pid, stat.ssl
from pg_stat_activity as activity
join pg_stat_ssl as stat using (pid)
where activity.datname = :name
"""


@dataclass(frozen=True)
class TlsServer:
    """A running server that speaks TLS only, the CA that signed it and one that did not."""

    port: int
    authority: Path
    wrong_authority: Path

    def url(
        self, database: str = "postgres", *, authority: Path | None = None, host: str = ""
    ) -> str:
        """A URL that insists on a verified certificate, as a deployment would write it.

        ``host`` names the server by another name (reached at 127.0.0.1 all the same).
        """
        ca = authority or self.authority
        address = "&hostaddr=127.0.0.1" if host else ""
        return (
            f"postgresql://postgres:hunter2@{host or '127.0.0.1'}:{self.port}/{database}"
            f"?sslmode=verify-full&sslrootcert={ca}{address}"
        )


def _bindir_with_openssl() -> Path | None:
    """The binaries of an installed PostgreSQL built with OpenSSL, if there is one."""
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    configure = subprocess.run([pg_config, "--configure"], capture_output=True, text=True)
    if "openssl" not in configure.stdout:
        return None
    bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout
    return Path(bindir.strip())


def _server_user() -> pwd.struct_passwd | None:
    """The OS user the server runs as: PostgreSQL refuses root, so ``postgres`` then."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def _run_as(user: pwd.struct_passwd, *command: str) -> None:
    """Run a server binary as ``user`` (switching only when this process is root)."""
    switch = user.pw_uid if os.geteuid() == 0 else None
    subprocess.run(command, check=True, capture_output=True, user=switch)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _authority(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA: its private key and certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _write_certificates(pgdata: Path, directory: Path) -> tuple[Path, Path]:
    """The server's key and certificate into ``pgdata``; the right and the wrong CA files."""
    ca_key, ca_certificate = _authority("fraud test CA")
    _, wrong_certificate = _authority("fraud test CA that signed nothing")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        # verify-full checks the host of the URL against these names.
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (pgdata / "server.crt").write_bytes(certificate.public_bytes(pem))
    # The server refuses a key that others may read.
    descriptor = os.open(pgdata / "server.key", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    authority, wrong = directory / "ca.pem", directory / "wrong-ca.pem"
    authority.write_bytes(ca_certificate.public_bytes(pem))
    wrong.write_bytes(wrong_certificate.public_bytes(pem))
    return authority, wrong


def _configure_tls(pgdata: Path, port: int) -> None:
    """TCP on loopback only, TLS on, and every connection without TLS refused."""
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write(
            "ssl = on\n"
            "ssl_cert_file = 'server.crt'\n"
            "ssl_key_file = 'server.key'\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {port}\n"
            "unix_socket_directories = ''\n"
        )
    (pgdata / "pg_hba.conf").write_text(
        "hostssl all all 127.0.0.1/32 trust\nhostnossl all all all reject\n"
    )


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TlsServer]:
    """Start the module's TLS-only server once; stop it and remove its files after."""
    bindir, user = _bindir_with_openssl(), _server_user()
    if bindir is None or user is None:
        pytest.skip("needs a PostgreSQL built with OpenSSL (pg_config on the PATH) to run as")
    directory = Path(tempfile.mkdtemp(prefix="fraud-test-tls-"))
    pgdata = directory / "pgdata"
    pgdata.mkdir(mode=0o700)

    def run(*command: str) -> None:
        _run_as(user, *command)

    try:
        os.chown(directory, user.pw_uid, user.pw_gid)
        os.chown(pgdata, user.pw_uid, user.pw_gid)
        run(str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust")
        authority, wrong = _write_certificates(pgdata, directory)
        for path in (*pgdata.glob("server.*"), authority, wrong):
            os.chown(path, user.pw_uid, user.pw_gid)
        port = _free_port()
        _configure_tls(pgdata, port)
        log = directory / "server.log"
        run(str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(log), "-w", "start")
        try:
            yield TlsServer(port=port, authority=authority, wrong_authority=wrong)
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _is_tls(connection: sa.Connection) -> bool:
    return bool(connection.execute(sa.text(_IS_TLS)).scalar_one())


def test_warehouse_engine_connects_with_a_verified_certificate(tls_server: TlsServer) -> None:
    engine = create_warehouse_engine(tls_server.url())
    try:
        with engine.connect() as connection:
            assert _is_tls(connection)
    finally:
        engine.dispose()


def test_copy_in_and_out_travels_over_tls(tls_server: TlsServer) -> None:
    import pyarrow as pa

    rows = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "note": ["a", "b", "c"]})
    engine = create_warehouse_engine(tls_server.url())
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("create temporary table copied (id bigint, note text)"))
            assert copy_arrow(connection, rows, "copied") == 3
            back = copy_out_table(
                connection,
                "select id, note from copied order by id",
                {field.name: field.type for field in rows.schema},
            )
            assert back.to_pydict() == rows.to_pydict()
            assert _is_tls(connection)
    finally:
        engine.dispose()


@pytest.mark.parametrize("role", ["airflow", "mlflow"])
def test_derived_urls_keep_the_tls_parameters(tls_server: TlsServer, role: str) -> None:
    urls = derive_urls(tls_server.url("warehouse"), {}, embedded=False)
    url = getattr(urls, role)
    assert url == tls_server.url(role)
    create_database(url, exist_ok=True)
    # As Airflow and MLflow connect: SQLAlchemy on psycopg2 with the URL as written.
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("select current_database()")).scalar_one() == role
            assert _is_tls(connection)
    finally:
        engine.dispose()


def test_mlflow_store_works_over_tls(tls_server: TlsServer) -> None:
    from mlflow.tracking import MlflowClient

    url = derive_urls(tls_server.url("warehouse"), {}, embedded=False).mlflow
    create_database(url, exist_ok=True)
    experiments = MlflowClient(tracking_uri=url).search_experiments()
    assert [experiment.name for experiment in experiments] == ["Default"]
    # The store's pool still holds its sessions: each of them is encrypted.
    engine = create_warehouse_engine(tls_server.url())
    try:
        with engine.connect() as connection:
            sessions = connection.execute(sa.text(_SESSIONS_OF), {"name": "mlflow"}).all()
    finally:
        engine.dispose()
    assert sessions
    assert all(ssl for _, ssl in sessions)


def test_airflow_async_engine_over_tls_as_the_readme_says(
    tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncpg takes ``ssl=verify-full`` in the URL and the CA from ``PGSSLROOTCERT``."""
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    monkeypatch.setenv("PGSSLROOTCERT", str(tls_server.authority))
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{tls_server.port}/postgres?ssl=verify-full"

    async def is_tls() -> bool:
        engine = create_async_engine(url, poolclass=sa.pool.NullPool)
        try:
            async with engine.connect() as connection:
                return bool((await connection.execute(sa.text(_IS_TLS))).scalar_one())
        finally:
            await engine.dispose()

    assert asyncio.run(is_tls())


def _connect(url: str) -> None:
    engine = create_warehouse_engine(url)
    try:
        with one_line_errors(url), engine.connect():
            pass
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("wrong_authority", "host", "expected"),
    [
        (True, "", "the server's certificate could not be verified against the CA in {ca}"),
        (False, "fraud.invalid", "the server's certificate does not name the host of the URL"),
    ],
)
def test_refused_certificate_is_one_line_naming_the_server(
    tls_server: TlsServer, wrong_authority: bool, host: str, expected: str
) -> None:
    authority = tls_server.wrong_authority if wrong_authority else tls_server.authority
    with pytest.raises(DatabaseError) as raised:
        _connect(tls_server.url(authority=authority, host=host))
    message = str(raised.value)
    assert "\n" not in message
    assert f"postgres:***@{host or '127.0.0.1'}:{tls_server.port}/postgres" in message
    assert "hunter2" not in message
    assert expected.format(ca=authority) in message


def test_wrong_ca_from_the_command_line_is_one_line(
    tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FRAUD_DATABASE_URL", tls_server.url(authority=tls_server.wrong_authority))
    assert main(["db", "migrate"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"127.0.0.1:{tls_server.port}" in error
    assert "hunter2" not in error
    assert "the server's certificate could not be verified" in error
