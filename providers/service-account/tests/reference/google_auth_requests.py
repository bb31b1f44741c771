"""Runs google-auth's service-account credentials for one case and prints what they sent.

Usage: python google_auth_requests.py KEY_FILE CASE_JSON

CASE_JSON holds the case: {"kind": "access" | "id_token", "token_uri", "scopes",
"default_scopes", "subject", "additional_claims", "always_use_jwt_access", "universe_domain",
"default_host", "target_audience"}. Grants go to the case's token_uri (credkit's loopback fake
token endpoint, which records them). Prints one JSON object: {"authorization": <the
Authorization header before_request wrote>} or {"error": <the exception's text>}.
"""

import json
import sys

import google.auth.exceptions
import google.auth.transport.requests
from google.oauth2 import service_account


def main():
    key_file, case = sys.argv[1], json.loads(sys.argv[2])
    with open(key_file, encoding="utf-8") as f:
        info = json.load(f)
    info["token_uri"] = case["token_uri"]
    if case.get("universe_domain"):
        info["universe_domain"] = case["universe_domain"]
    request = google.auth.transport.requests.Request()
    try:
        if case["kind"] == "id_token":
            creds = service_account.IDTokenCredentials.from_service_account_info(
                info, target_audience=case["target_audience"]
            )
        else:
            kwargs = {}
            for name in ("scopes", "default_scopes", "subject", "additional_claims"):
                if case.get(name) is not None:
                    kwargs[name] = case[name]
            if case.get("always_use_jwt_access"):
                kwargs["always_use_jwt_access"] = True
            creds = service_account.Credentials.from_service_account_info(info, **kwargs)
            # What AuthorizedSession(credentials, default_host=...) does on creation.
            host = case.get("default_host")
            creds._create_self_signed_jwt("https://{}/".format(host) if host else None)
        headers = {}
        creds.before_request(request, "GET", "https://example.googleapis.com/v1/x", headers)
        print(json.dumps({"authorization": headers.get("authorization")}))
    except google.auth.exceptions.GoogleAuthError as e:
        print(json.dumps({"error": str(e)}))


if __name__ == "__main__":
    main()
