"""asyncio loaded without ssl (agent/cli/lean_asyncio.py), in fresh processes: ssl is not loaded until
asyncio needs it (TLS, a socket call), a TLS connection through asyncio then works, and asyncio's modules
end up as an ordinary import makes them; other threads import ssl as usual meanwhile; a Python without
ssl, and an import that fails while ssl is refused, leave asyncio as an ordinary import would."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.cli import lean_asyncio
from tests.support.fresh_python import run_python
from tests.support.selfsigned import self_signed_ecdsa

_MODULES = ("asyncio.base_events", "asyncio.selector_events", "asyncio.sslproto")
#: What a process prints of asyncio's modules: every name each defines, and ssl's place in them.
_DESCRIBE = (
    "import ssl\n"
    f"described = {{m: sorted(vars(sys.modules[m])) for m in {_MODULES!r}}}\n"
    f"described['ssl is ssl'] = [sys.modules[m].ssl is ssl for m in {_MODULES!r}]\n"
    "described['again'] = repr(sys.modules['asyncio.sslproto'].SSLAgainErrors)\n"
    "print(json.dumps(described))\n"
)


@pytest.fixture(scope="module")
def localhost_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and its key (PEM files)."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = self_signed_ecdsa("localhost", dns_names=("localhost",))
    pem = x509.load_der_x509_certificate(cert).public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return folder / "cert.pem", folder / "key.pem"


def test_asyncio_speaks_tls_once_ssl_is_loaded_on_first_use(localhost_cert: tuple[Path, Path]) -> None:
    cert, key = localhost_cert
    res = run_python(
        "import json, sys\n"
        "from agent.cli.lean_asyncio import STAND_IN, import_asyncio\n"
        "import_asyncio()\n"
        "import asyncio\n"
        "assert 'ssl' not in sys.modules\n"
        f"assert all(sys.modules[m].ssl is STAND_IN for m in {_MODULES!r})\n"
        "assert asyncio.run(asyncio.sleep(0, 'plain')) == 'plain'  # an event loop needs no ssl\n"
        "assert 'ssl' not in sys.modules\n"
        "import ssl  # the contexts are the caller's; asyncio's modules still hold the stand-in\n"
        "server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)\n"
        f"server_ctx.load_cert_chain({str(cert)!r}, {str(key)!r})\n"
        f"client_ctx = ssl.create_default_context(cafile={str(cert)!r})\n"
        "async def echo(reader, writer):\n"
        "    writer.write((await reader.readline()).upper())\n"
        "    await writer.drain()\n"
        "    writer.close()\n"
        "async def main():\n"
        "    server = await asyncio.start_server(echo, '127.0.0.1', 0, ssl=server_ctx)\n"
        "    port = server.sockets[0].getsockname()[1]\n"
        "    reader, writer = await asyncio.open_connection(\n"
        "        '127.0.0.1', port, ssl=client_ctx, server_hostname='localhost')\n"
        "    writer.write(b'sealed\\n')\n"
        "    answer = await reader.readline()\n"
        "    version = writer.get_extra_info('ssl_object').version()\n"
        "    writer.close()\n"
        "    server.close()\n"
        "    await server.wait_closed()\n"
        "    return answer, version\n"
        "answer, version = asyncio.run(main())\n"
        "assert answer == b'SEALED\\n' and version.startswith('TLS'), (answer, version)\n" + _DESCRIBE
    )
    assert res.returncode == 0, res.stderr
    ordinary = run_python("import asyncio, json, sys\n" + _DESCRIBE)
    assert ordinary.returncode == 0, ordinary.stderr
    assert json.loads(res.stdout) == json.loads(ordinary.stdout)


def test_loaded_as_usual_where_ssl_is_loaded_already() -> None:
    res = run_python(
        "import json, ssl, sys\n"
        "from agent.cli.lean_asyncio import import_asyncio\n"
        "import_asyncio()\n" + _DESCRIBE
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["ssl is ssl"] == [True, True, True]


def test_only_the_importing_thread_goes_without_ssl() -> None:
    finder = lean_asyncio._NoSSLOnThisThread()
    with pytest.raises(ImportError):
        finder.find_spec("ssl")
    assert finder.find_spec("json") is None
    elsewhere: list[object] = []
    thread = threading.Thread(target=lambda: elsewhere.append(finder.find_spec("ssl")))
    thread.start()
    thread.join()
    assert elsewhere == [None]  # another thread's import finds the real ssl


_SOCKET_ROUND_TRIP = (
    "import socket\n"
    "async def round_trip():\n"
    "    loop = asyncio.get_running_loop()\n"
    "    a, b = socket.socketpair()\n"
    "    a.setblocking(False)\n"
    "    b.setblocking(False)\n"
    "    await loop.sock_sendall(a, b'x')\n"
    "    return await loop.sock_recv(b, 1)\n"
    "assert asyncio.run(round_trip()) == b'x'\n"
)


def test_a_socket_call_loads_ssl_for_its_check_and_works() -> None:
    """Every socket call of the event loop checks for an SSL socket (`isinstance(sock, ssl.SSLSocket)`)."""
    res = run_python(
        "import json, sys\n"
        "from agent.cli.lean_asyncio import import_asyncio\n"
        "import_asyncio()\n"
        "import asyncio\n"
        "assert 'ssl' not in sys.modules\n" + _SOCKET_ROUND_TRIP + _DESCRIBE
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["ssl is ssl"] == [True, True, True]


def test_a_python_without_ssl_keeps_asyncio_as_it_always_was() -> None:
    res = run_python(
        "import sys\n"
        "class NoSSL:  # a Python built without OpenSSL\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('ssl', '_ssl'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoSSL())\n"
        "from agent.cli.lean_asyncio import import_asyncio\n"
        "import_asyncio()\n"
        "import asyncio\n"
        f"assert all(sys.modules[m].ssl is None for m in {_MODULES!r})\n"
        + _SOCKET_ROUND_TRIP
        + "print('ok')\n"
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


@pytest.mark.parametrize("failure", ["ImportError", "KeyboardInterrupt"])
def test_an_import_that_fails_with_ssl_refused_leaves_nothing_half_loaded(failure: str) -> None:
    """A module of asyncio that fails to load while ssl is refused: the import is done again as Python does
    it (an ImportError), or what it loaded is dropped and the exception goes on (anything else)."""
    res = run_python(
        "import sys\n"
        "class OneShot:\n"
        "    done = False\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'asyncio.unix_events' and not OneShot.done:\n"
        "            OneShot.done = True\n"
        f"            raise {failure}('simulated')\n"
        "sys.meta_path.insert(0, OneShot())\n"
        "from agent.cli.lean_asyncio import import_asyncio\n"
        "try:\n"
        "    import_asyncio()\n"
        "except KeyboardInterrupt:\n"
        "    assert not any(m == 'asyncio' or m.startswith('asyncio.') for m in sys.modules)\n"
        "import asyncio, ssl\n"
        f"assert all(sys.modules[m].ssl is ssl for m in {_MODULES!r})\n"
        + _SOCKET_ROUND_TRIP
        + "print('ok')\n"
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
