"""authLevel left out: the host's default is `function`."""

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("secret ok")
