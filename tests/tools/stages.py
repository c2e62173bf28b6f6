#!/usr/bin/env python3
"""Runs the stages of `make test` (docs/lab.md#the-stages-of-make-test), timing each one.

    tests/tools/stages.py [--make MAKE] [--logs DIR] STEP...

A STEP is one stage (a make target, run as `MAKE -o deps TARGET`) or lanes that run at once:
"a b | c d" runs a then b (the foreground lane, its output streamed as usual) while c then d
run in the background (niced; each stage's output goes to DIR/STAGE.log and is printed, whole,
when the step ends). The next step starts when every lane of this one has ended. Each lane
after the first gets a collection tree of its own (COLL_TAG), as stages rebuild theirs.

A failed stage stops its lane; the other lanes finish the stage they are in but start no other,
no further step starts, and the script exits non-zero naming every stage that failed. At the
end (pass or fail) it prints a table: each stage's lane, start (from the beginning) and wall
time, and the total.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Stage:
    name: str
    lane: str
    start: float = 0.0
    seconds: float | None = None
    status: str = "not run"


def clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


class Runner:
    def __init__(self, make: str, logs: Path) -> None:
        self.make = make
        self.logs = logs
        self.t0 = time.monotonic()
        self.stages: list[Stage] = []
        self.failed = threading.Event()
        self.say_lock = threading.Lock()

    def say(self, text: str) -> None:
        with self.say_lock:
            print(text, flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def run_stage(self, stage: Stage, index: int) -> bool:
        argv = [self.make, "--no-print-directory", "-o", "deps", stage.name]
        if index:
            argv = ["nice", "-n", "10", *argv, f"COLL_TAG=-lane{index}"]
        stage.start = self.elapsed()
        stage.status = "running"
        self.say(f">> stage {stage.name} ({stage.lane}): started at {clock(stage.start)}")
        if index:
            with (self.logs / f"{stage.name}.log").open("w") as log:
                done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False)
            rc = done.returncode
        else:
            rc = subprocess.run(argv, check=False).returncode
        stage.seconds = self.elapsed() - stage.start
        stage.status = "ok" if rc == 0 else f"FAILED (exit {rc})"
        self.say(f">> stage {stage.name} ({stage.lane}): {stage.status} in {clock(stage.seconds)}")
        return rc == 0

    def run_lane(self, stages: list[Stage], index: int) -> None:
        for stage in stages:
            if self.failed.is_set():
                stage.status = "not run (an earlier stage failed)"
                continue
            if not self.run_stage(stage, index):
                self.failed.set()

    def run_step(self, step: str) -> None:
        lanes: list[list[Stage]] = []
        for index, lane in enumerate(step.split("|")):
            label = "foreground" if index == 0 else f"background {index}"
            lanes.append([Stage(name, label) for name in lane.split()])
            self.stages.extend(lanes[-1])
        threads = [
            threading.Thread(target=self.run_lane, args=(lane, index), daemon=True)
            for index, lane in enumerate(lanes)
            if index
        ]
        for thread in threads:
            thread.start()
        self.run_lane(lanes[0], 0)
        for thread in threads:
            thread.join()
        for background in lanes[1:]:
            for stage in background:
                log = self.logs / f"{stage.name}.log"
                if stage.seconds is not None and log.exists():
                    self.say(f">> output of stage {stage.name} ({stage.lane}, {log}):")
                    sys.stdout.write(log.read_text(errors="replace"))
                    self.say(f">> end of the output of stage {stage.name}: {stage.status}")

    def summary(self) -> None:
        width = max(len(stage.name) for stage in self.stages)
        self.say(">> stage times (wall, m:ss; background lanes run beside the foreground):")
        self.say(f"   {'stage':<{width}}  {'lane':<12}  start  wall   result")
        for stage in self.stages:
            wall = clock(stage.seconds) if stage.seconds is not None else "-"
            start = clock(stage.start) if stage.seconds is not None else "-"
            row = f"{stage.name:<{width}}  {stage.lane:<12}  {start:>5}  {wall:>5}"
            self.say(f"   {row}  {stage.status}")
        self.say(f"   {'total':<{width}}  {'':<12}  {'':>5}  {clock(self.elapsed()):>5}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--make", default="make")
    parser.add_argument("--logs", type=Path, default=Path("build/stages"))
    parser.add_argument("steps", nargs="+")
    args = parser.parse_args()
    args.logs.mkdir(parents=True, exist_ok=True)
    runner = Runner(args.make, args.logs)
    for step in args.steps:
        if runner.failed.is_set():
            for name in step.replace("|", " ").split():
                runner.stages.append(Stage(name, "-", status="not run (an earlier stage failed)"))
            continue
        runner.run_step(step)
    runner.summary()
    failed = [stage.name for stage in runner.stages if stage.status.startswith("FAILED")]
    if failed:
        runner.say(f">> make test: FAILED in stage(s) {', '.join(failed)} (table above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
