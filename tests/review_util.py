"""An extract of a shared video for the review and export tests, started once per test
session in the background: the gallery's browser test watches it run, the others wait
for it to finish and work on copies."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .util import VIDEOS

VIDEO = "stage_performer"  # several people: merges; small faces: restored ones
# Enough frames for several people, restored faces and a live view of the write step.
EXTRACT_ARGS = ("--max-frames", "24")
# The browser tests' Chromium (Debian's: it plays H.264) and its flags.
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class BackgroundExtract:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
        self.log = folder.parent / "extract.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "personframes",
                    "extract",
                    str(VIDEOS / f"{VIDEO}.mp4"),
                    "-o",
                    str(folder),
                    *EXTRACT_ARGS,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def wait_started(self, timeout: float = 120) -> None:
        """Until the video's state database exists (the review can open the folder)."""
        deadline = time.monotonic() + timeout
        while not list(self.folder.glob(".personframes/videos/*/state.sqlite")):
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "extract did not start"
            time.sleep(0.2)

    def finished(self, timeout: float = 900) -> Path:
        code = self.process.wait(timeout)
        assert code == 0, self.log.read_text()
        return self.folder

    def copy(self, target: Path) -> Path:
        """A copy of the finished folder, for a test to review and export on its own:
        without the review the browser test may have made in the original."""
        shutil.copytree(self.finished(), target, symlinks=True)
        (target / ".personframes" / "review.sqlite").unlink(missing_ok=True)
        return target


class Server:
    """``personframes review OUT --no-browser`` in a subprocess, on a free port."""

    def __init__(self, folder: Path, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "personframes", "review", str(folder), "--no-browser", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]+)", line)
        assert found, line + self.process.stdout.read()
        self.port = int(found.group(1))
        self.token = found.group(2)
        self.url = found.group(0)  # the address with the token, as printed

    def stop(self) -> str:
        """Ctrl+C, as a user stops it; what it printed after the first line."""
        self.process.send_signal(2)
        out, _ = self.process.communicate(timeout=30)
        return out
