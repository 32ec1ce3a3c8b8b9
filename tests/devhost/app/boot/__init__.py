"""Yearly timer with runOnStartup: runs once when the host starts."""

import json
import os

import azure.functions as func


def main(timer: func.TimerRequest) -> None:
    path = os.environ.get("DEVHOST_TEST_TIMER_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"function": "boot", "past_due": timer.past_due}) + "\n")
