"""Imported relatively, which works only when the folder is imported as a package."""


def describe(kind: str, n: str) -> str:
    return f"{kind} x{n}"
