"""What google-auth's external account credentials send, captured without a network.

Reads a JSON list of cases on stdin. Each case has an `external_account` file (`info`, whose
file source the test wrote) and the `replies` its fake `request` callable answers, in order.
Prints, for each case, the requests the library made (url, method, the headers that matter,
the body: the form as a list of pairs for STS, JSON for IAM) and the error it raised, if any,
as a JSON list on stdout. The metrics header is left out: credkit sends none.
"""
import json
import sys
import urllib.parse

from google.auth import identity_pool

KEPT_HEADERS = ("authorization", "content-type", "x-goog-user-project")


class FakeHttpResponse:
    def __init__(self, status, payload):
        self.status = status
        self.status_code = status
        self.data = json.dumps(payload).encode("utf-8")
        self.headers = {"content-type": "application/json"}


def run(case):
    captured = []
    replies = list(case["replies"])

    def fake_request(url, method="GET", body=None, headers=None, **kwargs):
        headers = {k.lower(): v for k, v in (headers or {}).items() if k.lower() in KEPT_HEADERS}
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        if headers.get("content-type") == "application/x-www-form-urlencoded":
            parsed = urllib.parse.parse_qsl(body, keep_blank_values=True)
        elif body:
            parsed = json.loads(body)
        else:
            parsed = None
        captured.append({"url": url, "method": method, "headers": headers, "body": parsed})
        status, payload = replies.pop(0)
        return FakeHttpResponse(status, payload)

    credentials = identity_pool.Credentials.from_info(case["info"], scopes=case.get("scopes"))
    error = None
    try:
        credentials.refresh(fake_request)
    except Exception as err:  # noqa: BLE001 - the words are compared
        error = str(err)
    return {"requests": captured, "error": error, "token": credentials.token}


print(json.dumps([run(case) for case in json.load(sys.stdin)]))
