"""authLevel admin: only the master key opens it."""

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin ok")
