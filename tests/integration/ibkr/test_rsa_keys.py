"""The RsaKeys port: both implementations (in this process; a child process per call) give
the same results and fail the same way; the child's failures are BrokerUnavailableError
without secrets; nothing secret reaches the child's argv or environment."""

from __future__ import annotations

import ast
import base64
import json
import os
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from skimd.errors import BrokerUnavailableError, SecretFileError
from skimd.infrastructure.brokers.ibkr import rsa_child
from skimd.infrastructure.brokers.ibkr.rsa_child_process import CHILD_SCRIPT, ChildProcessRsaKeys
from skimd.infrastructure.brokers.ibkr.rsa_in_process import InProcessRsaKeys
from skimd.infrastructure.brokers.ibkr.rsa_keys import PROTOCOL_VERSION, KeyFile, KeyRefused
from tests.fakes.ibkr_server import FakeIbkrKeys

IMPLEMENTATIONS = {"in-process": InProcessRsaKeys, "child-process": ChildProcessRsaKeys}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def rsa_keys(request: pytest.FixtureRequest) -> InProcessRsaKeys | ChildProcessRsaKeys:
    return IMPLEMENTATIONS[request.param]()  # type: ignore[no-any-return]


@pytest.fixture
def key_files(ibkr_keys: FakeIbkrKeys, tmp_path: Path) -> tuple[KeyFile, KeyFile]:
    signature, encryption = ibkr_keys.write_keys(tmp_path)
    return KeyFile("signature_key_file", signature), KeyFile("encryption_key_file", encryption)


def test_the_child_speaks_the_ports_protocol_version() -> None:
    assert rsa_child.VERSION == PROTOCOL_VERSION


async def test_decrypt_and_sign(
    rsa_keys: InProcessRsaKeys | ChildProcessRsaKeys,
    ibkr_keys: FakeIbkrKeys,
    key_files: tuple[KeyFile, KeyFile],
) -> None:
    signature, encryption = key_files
    rsa_keys.check(signature, encryption)
    ciphertext = base64.b64decode(ibkr_keys.access_token_secret_b64)
    assert await rsa_keys.decrypt(encryption, ciphertext) == ibkr_keys.secret
    signed = await rsa_keys.sign(signature, b"POST&base string")
    ibkr_keys.signature_key.public_key().verify(  # raises when the signature is wrong
        signed, b"POST&base string", padding.PKCS1v15(), hashes.SHA256()
    )


async def test_a_ciphertext_the_key_refuses(
    rsa_keys: InProcessRsaKeys | ChildProcessRsaKeys, key_files: tuple[KeyFile, KeyFile]
) -> None:
    with pytest.raises(KeyRefused):
        await rsa_keys.decrypt(key_files[1], b"not as long as the modulus")


def _break(path: Path, problem: str) -> None:
    if problem == "missing":
        path.unlink()
    elif problem == "group-readable":
        path.chmod(0o640)
    elif problem == "not-pem":
        path.write_text("hello")
    elif problem == "not-rsa":
        ec_key = ec.generate_private_key(ec.SECP256R1())
        path.write_bytes(ec_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))
    elif problem == "unreadable-directory":
        path.unlink()
        path.mkdir(mode=0o700)


EXPECTED = {
    "missing": "key file not found",
    "group-readable": "secret file mode is 0640; it must be 0600 or 0400",
    "not-pem": "not an unencrypted PEM private key",
    "not-rsa": "not an RSA private key",
    "unreadable-directory": "key file is not readable (Is a directory)",
}


@pytest.mark.parametrize("problem", sorted(EXPECTED))
async def test_an_unusable_key_file_is_named_the_same_way_by_both(
    problem: str, ibkr_keys: FakeIbkrKeys, key_files: tuple[KeyFile, KeyFile]
) -> None:
    signature, encryption = key_files
    _break(encryption.path, problem)
    messages = set()
    for make in IMPLEMENTATIONS.values():
        keys = make()
        for attempt in ("check", "decrypt"):
            with pytest.raises(SecretFileError) as err:
                if attempt == "check":
                    keys.check(signature, encryption)
                else:
                    await keys.decrypt(encryption, b"x" * 256)
            messages.add(str(err.value))
    assert len(messages) == 1, messages
    message = messages.pop()
    assert message.startswith(f"[ibkr] encryption_key_file: {encryption.path}")
    assert message.endswith(EXPECTED[problem])
    assert "PRIVATE KEY" not in message


def _child(code: str) -> ChildProcessRsaKeys:
    return ChildProcessRsaKeys(command=[sys.executable, "-I", "-c", code], timeout_s=5)


SECRET_DATA = b"the access token secret, not for anyone's eyes"

BROKEN_CHILDREN = {
    "crashes": (
        "import sys; sys.stdin.read(); raise RuntimeError(sys.argv)", "exit 1, RuntimeError"
    ),
    "exits non-zero": ("import sys; sys.stdin.read(); sys.exit(3)", "exit 3"),
    "is killed": ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "killed by signal 9"),
    "answers garbage": ("import sys; sys.stdin.read(); print('hello')", "unreadable answer"),
    "answers another version": (
        "import sys, json; sys.stdin.read(); print(json.dumps({'v': 99, 'results': []}))",
        "unreadable answer",
    ),
    "answers too few results": (
        "import sys, json; sys.stdin.read(); print(json.dumps({'v': 1, 'results': []}))",
        "unreadable answer",
    ),
    "does not answer": (
        "import sys, signal; sys.stdin.read(); signal.pause()",
        "did not answer within 1 s",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_CHILDREN))
async def test_a_broken_child_is_a_broker_error_without_secrets(
    case: str, key_files: tuple[KeyFile, KeyFile]
) -> None:
    code, expected = BROKEN_CHILDREN[case]
    keys = ChildProcessRsaKeys(
        command=[sys.executable, "-I", "-c", code], timeout_s=1 if "answer" in expected else 30
    )
    failures = []
    with pytest.raises(BrokerUnavailableError) as err:
        await keys.sign(key_files[0], SECRET_DATA)
    failures.append(str(err.value))
    with pytest.raises(BrokerUnavailableError) as err:
        keys.check(*key_files)
    failures.append(str(err.value))
    for message in failures:
        assert message.startswith("IBKR key helper") and expected in message
        assert "secret" not in message and str(key_files[0].path) not in message


async def test_no_secret_reaches_the_childs_argv_or_environment(
    key_files: tuple[KeyFile, KeyFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child is given its request on stdin only; its argv and environment are echoed
    back (as its 'signature') and searched for the data and the daemon's secret settings."""
    monkeypatch.setenv("SKIMD__IBKR__CONSUMER_KEY", "consumer key from the environment")
    echo = (
        "import sys, os, json, base64; sys.stdin.read();"
        "seen = json.dumps([sys.argv, dict(os.environ)]).encode();"
        "print(json.dumps({'v': 1, 'results': [{'ok': base64.b64encode(seen).decode()}]}))"
    )
    seen = (await _child(echo).sign(key_files[0], SECRET_DATA)).decode()
    argv, env = json.loads(seen)
    assert SECRET_DATA.decode() not in seen
    assert base64.b64encode(SECRET_DATA).decode() not in seen
    assert not [name for name in env if name.startswith(("SKIMD", "CREDENTIALS"))]
    assert env.get("PATH") == os.environ.get("PATH")
    assert argv == ["-c"]



def test_the_child_script_imports_only_the_stdlib_and_cryptography() -> None:
    """It is run as a script with ``-I`` (no skimd on its path), so it may not import skimd."""
    tree = ast.parse(CHILD_SCRIPT.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported - sys.stdlib_module_names == {"cryptography"}
