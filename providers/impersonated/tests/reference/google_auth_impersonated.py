"""What google-auth's impersonated_credentials sends, captured without a network.

Reads a JSON list of cases on stdin and prints, for each, the requests the library made
(url, method, the headers that matter, the body as JSON) and the error it raised, if any, as a
JSON list on stdout. The access-token calls go through a fake `request` callable; ID tokens and
sign_bytes go through `AuthorizedSession`, replaced here by a fake session that applies the
source credentials' headers as the real one does. The backoff's sleeps are recorded, not slept.
"""
import base64
import json
import sys

import google.auth._exponential_backoff as backoff
import google.auth.transport.requests as transport_requests
from google.auth import impersonated_credentials
from google.oauth2 import credentials as user_credentials

KEPT_HEADERS = ("authorization", "content-type", "x-goog-user-project")

captured = []
replies = []
sleeps = []

backoff.time.sleep = lambda seconds: sleeps.append(seconds)


def keep(headers):
    return {k.lower(): v for k, v in headers.items() if k.lower() in KEPT_HEADERS}


def body_json(body):
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return json.loads(body)


class FakeHttpResponse:
    def __init__(self, status, payload):
        self.status = status
        self.status_code = status
        self.data = json.dumps(payload).encode("utf-8")
        self.headers = {"content-type": "application/json"}
        self._payload = payload

    def json(self):
        return self._payload


def next_reply():
    status, payload = replies.pop(0)
    return FakeHttpResponse(status, payload)


def fake_request(url, method="GET", body=None, headers=None, **kwargs):
    captured.append(
        {"url": url, "method": method, "headers": keep(headers or {}), "body": body_json(body)}
    )
    return next_reply()


class FakeSession:
    def __init__(self, credentials, auth_request=None, **kwargs):
        self.credentials = credentials

    def configure_mtls_channel(self):
        pass

    def close(self):
        pass

    def post(self, url, headers=None, json=None, data=None):
        headers = dict(headers or {})
        if json is not None:
            headers["Content-Type"] = "application/json"
            data = globals()["json"].dumps(json)
        self.credentials.before_request(fake_request, "POST", url, headers)
        captured.append(
            {"url": url, "method": "POST", "headers": keep(headers), "body": body_json(data)}
        )
        return next_reply()


transport_requests.AuthorizedSession = FakeSession


def jwt_with_exp(exp):
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return "{}.{}.{}".format(enc({"alg": "RS256"}), enc({"exp": exp, "aud": "a"}), "c2ln")


def run(case):
    global captured, replies, sleeps
    captured, replies, sleeps = [], list(case.get("replies", [])), []
    source = user_credentials.Credentials(
        token=case["source_token"],
        quota_project_id=case.get("source_quota_project"),
        universe_domain=case.get("universe_domain", "googleapis.com"),
    )
    target = impersonated_credentials.Credentials(
        source_credentials=source,
        target_principal=case["principal"],
        target_scopes=case.get("scopes"),
        delegates=case.get("delegates"),
        lifetime=case.get("lifetime", 3600),
        quota_project_id=case.get("quota_project"),
    )
    error = None
    try:
        kind = case["kind"]
        if kind == "access":
            target.refresh(fake_request)
        elif kind == "id_token":
            ids = impersonated_credentials.IDTokenCredentials(
                target,
                target_audience=case["audience"],
                include_email=case.get("include_email", False),
            )
            ids.refresh(fake_request)
        elif kind == "sign":
            target.sign_bytes(case["message"].encode("utf-8"))
        elif kind == "url":
            pass
    except Exception as exc:  # noqa: BLE001 - the message is the point
        error = exc.args[0] if exc.args else str(exc)
    return {
        "requests": captured,
        "error": error,
        "sleeps": sleeps,
        "access_url": impersonated_credentials.iam._IAM_ENDPOINT.replace(
            "googleapis.com", target.universe_domain
        ).format(case["principal"]),
    }


print(json.dumps([run(case) for case in json.load(sys.stdin)]))
