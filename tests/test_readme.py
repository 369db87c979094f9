"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, monkeypatch):
    code = BLOCKS[index]
    if "import torchcomp" in code:
        pytest.skip("needs a fresh process (install_as_torchlpc); covered by test_torchcomp.py")
    namespace: dict = {}
    try:
        exec(compile(code, f"README.md block {index}", "exec"), namespace)
    finally:
        import tritonlpc

        tritonlpc.set_backend(None)
