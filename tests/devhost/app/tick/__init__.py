"""Timer on a schedule from a setting; appends one JSON line per run to $DEVHOST_TEST_TIMER_LOG."""

import json
import os
import time

import azure.functions as func


def main(timer: func.TimerRequest) -> None:
    path = os.environ.get("DEVHOST_TEST_TIMER_LOG")
    if not path:
        return
    line = {
        "function": "tick",
        "past_due": timer.past_due,
        "concrete": type(timer).__module__ + "." + type(timer).__name__,
        "schedule_status": getattr(timer, "schedule_status", None),
        "at": time.time(),
    }
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")
