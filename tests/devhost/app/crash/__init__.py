"""Raises, to check the host answers 500 without the traceback or the secret."""

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("boom with secret-in-message")
