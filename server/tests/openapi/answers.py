"""Checks answers a running server gave against the OpenAPI document it
serves: each answer's body must match the schema the document gives for
its operation, status and media type (with `openapi-schema-validator`'s
OpenAPI 3.1 dialect, formats checked). Run by ../openapi.rs:

    python answers.py DOCUMENT.json ANSWERS.json

ANSWERS.json is a list of {"method", "route", "status", "contentType",
"body"} (`route` the path template, `body` the JSON answered or null).
Prints one line per answer and exits 1 if any does not match.
"""

import json
import sys

from openapi_schema_validator import OAS31Validator


def response_of(doc, method, route, status):
    """The documented response: the exact status, else its range (4XX)."""
    operation = doc["paths"].get(route, {}).get(method)
    if operation is None:
        return None, f"{method.upper()} {route} is not in the document"
    responses = operation["responses"]
    response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
    if response is None:
        return None, f"{method.upper()} {route} documents no {status} ({sorted(responses)})"
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[-1]
        response = doc["components"]["responses"][name]
    return response, None


def check(doc, answer):
    method, route = answer["method"].lower(), answer["route"]
    status, kind, body = answer["status"], answer["contentType"], answer["body"]
    response, why = response_of(doc, method, route, status)
    if why:
        return why
    content = response.get("content")
    if not content:
        if body is not None:
            return f"{status} documents no body, answered {body!r}"
        return None
    media = kind.split(";")[0].strip()
    documented = {k.split(";")[0].strip(): v for k, v in content.items()}
    if media not in documented:
        return f"{status} answered {media}, documented {sorted(documented)}"
    if body is None:
        return None
    schema = dict(documented[media].get("schema", {}))
    # The document's components beside the schema, so its $refs resolve.
    schema["components"] = doc.get("components", {})
    validator = OAS31Validator(schema, format_checker=OAS31Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    if errors:
        return "; ".join(
            f"at {'/'.join(map(str, e.path)) or '(body)'}: {e.message}" for e in errors[:5]
        )
    return None


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        answers = json.load(f)
    failed = 0
    for answer in answers:
        name = f"{answer['method']} {answer['route']} {answer['status']}"
        why = check(doc, answer)
        if why:
            failed += 1
            print(f"MISMATCH {name}: {why}")
        else:
            print(f"MATCH {name}")
    print(f"{len(answers) - failed} answers match the document, {failed} do not")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
