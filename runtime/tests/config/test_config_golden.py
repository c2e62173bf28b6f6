"""Golden files: each corpus config -> expected diagnostics text and model JSON.

Regenerate after an intended change with `VIPKEEPER_REGEN_GOLDEN=1 pytest tests/config`,
then review the diff of tests/config/golden/.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vipkeeper.config import load
from vipkeeper.config.dump import to_jsonable

CONFIGS = Path(__file__).resolve().parent.parent / "data" / "configs"
GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("VIPKEEPER_REGEN_GOLDEN") == "1"
CORPUS = sorted(CONFIGS.glob("*.conf"))


def check(path: Path, text: str) -> None:
    if REGEN:
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with VIPKEEPER_REGEN_GOLDEN=1"
    assert text == path.read_text()


def test_corpus_has_good_and_bad_configs() -> None:
    bad = [p for p in CORPUS if p.name.startswith("bad-")]
    assert len(bad) >= 10
    assert len(CORPUS) - len(bad) >= 10


@pytest.mark.parametrize("conf", CORPUS, ids=lambda p: p.name)
def test_golden(conf: Path) -> None:
    res = load(conf, "node1", interface_exists={"eth0", "eth1"}.__contains__)
    diag_text = "".join(
        d.format().replace(str(CONFIGS), "CONFIGS") + f"  [{d.code}]\n" for d in res.diagnostics
    )
    diag_text += f"exit {res.exit_code}\n"
    check(GOLDEN / f"{conf.stem}.diag", diag_text)
    if conf.name.startswith("bad-"):
        assert res.exit_code != 0, "a bad-* config must be rejected"
    else:
        assert res.exit_code == 0, "a good config must be accepted"
        model = json.dumps(to_jsonable(res.config, locations=False), indent=1, sort_keys=True)
        check(GOLDEN / f"{conf.stem}.json", model + "\n")
