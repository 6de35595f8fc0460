"""Fuzz the inputs users hand the program, longer than the tests do; print JSON.

Usage: python bench/fuzz.py [--examples 2000] [--state-examples 40] [--seed 0]
       [--targets config,image,video,state] [--save FILE] [--replay FILE]

Runs the targets of ``tests/fuzz_targets.py`` (config files, image headers, video
headers, an edited state database then a rerun; see that module) with hypothesis, but
keeps going after a failure: every example's outcome is counted, and every distinct
finding (exception type and where it was raised, or the broken contract) is kept with
the first case that showed it and how many cases did. Prints one JSON object:
``{"seconds": ..., "targets": {name: {"examples", "outcomes", "findings": [...]}}}``.

A case is plain data: ``--save FILE`` writes the findings with their cases, and
``--replay FILE`` runs those cases again (e.g. after a fix) and prints what each gives now.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import fuzz_targets as ft  # noqa: E402


def _where(exc: BaseException) -> str:
    """The innermost frame in personframes (else the innermost frame) that raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/personframes/" in f.filename]
    frame = (ours or frames)[-1] if frames else None
    if frame is None:
        return "?"
    path = frame.filename.split("/personframes/", 1)[-1] if ours else Path(frame.filename).name
    return f"{'personframes/' if ours else ''}{path}:{frame.lineno} ({frame.name})"


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__case__": type(value).__name__, **fields}
    if isinstance(value, bytes):
        return {"__b64__": base64.b64encode(value).decode()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if isinstance(value, dict):
        if "__b64__" in value:
            return base64.b64decode(value["__b64__"])
        if "__case__" in value:
            cls = getattr(ft, value["__case__"])
            return cls(**{k: _decode(v) for k, v in value.items() if k != "__case__"})
        return {k: _decode(v) for k, v in value.items()}
    return value


@dataclasses.dataclass
class Target:
    name: str
    strategy: Any
    check: Callable[[Any, Path], str]
    examples: int
    outcomes: Counter[str] = dataclasses.field(default_factory=Counter)
    findings: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)

    def run_one(self, case: Any, scratch: Path) -> None:
        folder = Path(tempfile.mkdtemp(dir=scratch))
        try:
            self.outcomes[self.check(case, folder)] += 1
        except ft.Finding as exc:
            self._keep(("contract", exc.key), case, exc, "contract")
        except Exception as exc:
            self._keep((type(exc).__name__, _where(exc)), case, exc, "exception")

    def _keep(self, key: tuple[str, str], case: Any, exc: BaseException, kind: str) -> None:
        self.outcomes[f"finding: {key[0]}"] += 1
        if key in self.findings:
            self.findings[key]["count"] += 1
            return
        self.findings[key] = {
            "kind": kind,
            "key": key[1] if kind == "contract" else f"{key[0]} at {key[1]}",
            "type": type(exc).__name__,
            "where": _where(exc) if kind == "exception" else "",
            "message": str(exc)[:600],
            "count": 1,
            "case_repr": repr(case)[:600],
            "case": _encode(case),
        }

    def report(self) -> dict[str, Any]:
        return {
            "examples": sum(self.outcomes.values()),
            "outcomes": dict(self.outcomes.most_common()),
            "findings": list(self.findings.values()),
        }


def targets(args: argparse.Namespace, scratch: Path) -> list[Target]:
    wanted = args.targets.split(",")
    found: list[Target] = []
    if "config" in wanted:
        found.append(Target("config", ft.CONFIG_CASES, ft.check_config, args.examples))
    if "image" in wanted:
        found.append(Target("image", ft.IMAGE_CASES, ft.check_image, args.examples))
    if "video" in wanted:
        bases = ft.video_bases(Path(tempfile.mkdtemp(dir=scratch)))
        found.append(
            Target(
                "video",
                ft.video_cases(bases),
                lambda case, folder: ft.check_video(case, bases, folder),
                args.examples,
            )
        )
    if "state" in wanted:
        base = ft.make_state_base(Path(tempfile.mkdtemp(dir=scratch)))
        found.append(
            Target(
                "state",
                ft.STATE_CASES,
                lambda case, folder: ft.check_state(case, base, folder),
                args.state_examples,
            )
        )
    return found


def run(target: Target, scratch: Path, rng_seed: int) -> None:
    @seed(rng_seed)
    @settings(
        max_examples=target.examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # no shrinking: a failure is recorded, not raised
        suppress_health_check=list(HealthCheck),
    )
    @given(case=target.strategy)
    def explore(case: Any) -> None:
        target.run_one(case, scratch)

    explore()


def replay(path: Path, scratch: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run each saved finding's case again; say what it gives now."""
    saved = json.loads(path.read_text())
    args.targets = ",".join(saved["targets"])
    checks = {t.name: t.check for t in targets(args, scratch)}
    results: dict[str, Any] = {}
    for name, report in saved["targets"].items():
        results[name] = []
        for finding in report["findings"]:
            folder = Path(tempfile.mkdtemp(dir=scratch))
            try:
                now = checks[name](_decode(finding["case"]), folder)
            except ft.Finding as exc:
                now = f"contract: {exc}"
            except Exception as exc:
                now = f"{type(exc).__name__} at {_where(exc)}: {exc}"
            results[name].append({"was": finding["message"][:300], "now": now[:300]})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="per fast target")
    parser.add_argument("--state-examples", type=int, default=40, help="reruns of extract")
    parser.add_argument("--targets", default="config,image,video,state")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, help="write the findings and their cases here")
    parser.add_argument("--replay", type=Path, help="rerun the cases of a saved file")
    args = parser.parse_args()
    # Headers that claim many megapixels are the point here; Pillow's warning is noise.
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pf-fuzz-") as tmp:
        scratch = Path(tmp)
        if args.replay is not None:
            print(json.dumps(replay(args.replay, scratch, args), indent=2, ensure_ascii=False))
            return
        document: dict[str, Any] = {"seed": args.seed, "targets": {}}
        for target in targets(args, scratch):
            target_started = time.perf_counter()
            run(target, scratch, args.seed)
            document["targets"][target.name] = {
                **target.report(),
                "seconds": round(time.perf_counter() - target_started, 1),
            }
    document["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    if args.save is not None:
        args.save.write_text(text + "\n", encoding="utf-8")
    for report in document["targets"].values():  # the cases are in --save; keep stdout short
        for finding in report["findings"]:
            del finding["case"]
    print(json.dumps(document, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
