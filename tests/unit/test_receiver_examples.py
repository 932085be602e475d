"""The copy-paste receiver examples in docs/webhook-receivers.md work: the Node.js one,
taken from the page as it is, verifies what the gateway signs and refuses what it must."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from wagateway.webhooks.signing import sign

PAGE = Path(__file__).resolve().parents[2] / "docs" / "webhook-receivers.md"
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
NODE = shutil.which("node")

RUN = """
const { verifyWebhook } = require(process.argv[1]);  // with -e, argv[1] is the first argument
const cases = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
const out = cases.map(({ body, headers, secret }) => {
  try { return verifyWebhook(Buffer.from(body, "base64"), headers, secret).request_id; }
  catch (e) { return "refused: " + e.message; }
});
console.log(JSON.stringify(out));
"""


def _example(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), re.S)
    assert len(blocks) == 1, f"one {language} example expected in {PAGE.name}"
    return blocks[0]


def _case(body: bytes, *, secret: str = SECRET, age: int = 0, signed_with: str = SECRET):
    timestamp = int(time.time()) - age
    headers = {
        "webhook-id": "evt-9",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign([signed_with], "evt-9", timestamp, body),
        "x-wa-request-id": "evt-9",
    }
    return {"body": base64.b64encode(body).decode(), "headers": headers, "secret": secret}


@pytest.mark.skipif(NODE is None, reason="node is not installed: the Node.js example is not run")
def test_the_nodejs_example_verifies_and_refuses(tmp_path: Path) -> None:
    module = tmp_path / "verify.js"
    module.write_text(_example("js"))
    body = json.dumps({"event": "receipt", "request_id": "evt-9"}, separators=(",", ":"))
    raw = body.encode()
    cases = [
        _case(raw),
        _case(raw.replace(b"receipt", b"RECEIPT")[:-1] + b"}", signed_with=SECRET),
        _case(raw, age=301),
        _case(raw, signed_with="whsec_" + base64.b64encode(b"x" * 32).decode()),
    ]
    # The second case: a body changed after signing (sign the original, send another).
    cases[1]["headers"]["webhook-signature"] = _case(raw)["headers"]["webhook-signature"]
    result = subprocess.run(
        [str(NODE), "-e", RUN, str(module)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    answers = json.loads(result.stdout)
    assert answers[0] == "evt-9"
    assert answers[1] == "refused: no valid signature"
    assert answers[2] == "refused: timestamp outside tolerance"
    assert answers[3] == "refused: no valid signature"
