"""Per-task wall time of a playbook run (bench/site/run.py --profile): TASKTIME lines."""

from __future__ import annotations

import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_times
type: aggregate
short_description: wall time of each task, the slowest printed at the end
description: Used by bench/site/run.py --profile.
requirements: [enabled in callbacks_enabled]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._times = {}
        self._current = None

    def _start(self, task):
        self._stop()
        self._current = (task.get_name(), time.monotonic())

    def _stop(self):
        if self._current is not None:
            name, began = self._current
            self._times[name] = self._times.get(name, 0.0) + time.monotonic() - began
            self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task)

    def v2_playbook_on_stats(self, stats):
        self._stop()
        for name, spent in sorted(self._times.items(), key=lambda kv: -kv[1])[:30]:
            self._display.display(f"TASKTIME {spent:7.2f} {name}")
