"""Can personframes install from wheels alone on a Python that is not on this machine?

    python bench/wheel_tags.py [--python 3.14] [--python 3.10]

For each Python version, asks pip to resolve this checkout and all its dependencies
for CPython on manylinux x86_64 with ``--only-binary=:all:`` (no interpreter of that
version needed: ``pip download --python-version``), downloads into a temporary folder
and prints one JSON object: per version whether the resolution succeeded, every wheel
chosen (name, version, tags) and, when it failed, pip's last lines. Needs the package
index (the registries are reachable here); nothing is installed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PLATFORMS = (
    "manylinux_2_34_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
)


def resolve(version: str) -> dict[str, Any]:
    abi = "cp" + version.replace(".", "")
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--python-version",
            version,
            "--implementation",
            "cp",
            "--abi",
            abi,
            *[arg for platform in PLATFORMS for arg in ("--platform", platform)],
            "--dest",
            folder,
            str(REPO),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = sorted(p.name for p in Path(folder).glob("*.whl"))
    parsed = []
    for name in wheels:
        parts = name[: -len(".whl")].split("-")
        parsed.append({"name": parts[0], "version": parts[1], "tags": "-".join(parts[-3:])})
    result: dict[str, Any] = {"python": version, "ok": done.returncode == 0, "wheels": parsed}
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if not line.startswith("WARNING")]
        result["error"] = lines[-5:]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", help="version(s), default 3.14")
    args = parser.parse_args()
    versions = args.python or ["3.14"]
    results = [resolve(v) for v in versions]
    print(json.dumps({"all_ok": all(r["ok"] for r in results), "results": results}, indent=1))


if __name__ == "__main__":
    main()
