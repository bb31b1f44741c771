"""Runs google-auth's Compute Engine code against the metadata server named by
GCE_METADATA_HOST / GCE_METADATA_IP (credkit's FakeMetadataServer in the wire test), one scenario
per run, and prints what it got as one JSON line. The requests themselves are what the test
compares: the fake records them.

Usage: python google_auth_requests.py SCENARIO
  probe         _metadata.ping
  token         compute_engine.Credentials().refresh
  token_scopes  compute_engine.Credentials(scopes=[...]).refresh
  identity      compute_engine.IDTokenCredentials(use_metadata_identity_endpoint=True).refresh
  email         _metadata.get_service_account_info(...)["email"]
"""

import json
import sys

from google.auth import compute_engine
from google.auth.compute_engine import _metadata
from google.auth.transport.requests import Request

SCOPES = [
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
]
AUDIENCE = "https://service.example/"


def main(scenario):
    request = Request()
    if scenario == "probe":
        return {"available": _metadata.ping(request)}
    if scenario == "token":
        credentials = compute_engine.Credentials()
        credentials.refresh(request)
        return {"token": credentials.token}
    if scenario == "token_scopes":
        credentials = compute_engine.Credentials(scopes=SCOPES)
        credentials.refresh(request)
        return {"token": credentials.token}
    if scenario == "identity":
        credentials = compute_engine.IDTokenCredentials(
            request, AUDIENCE, use_metadata_identity_endpoint=True
        )
        credentials.refresh(request)
        return {"token": credentials.token}
    if scenario == "email":
        return {"email": _metadata.get_service_account_info(request)["email"]}
    raise SystemExit("unknown scenario " + scenario)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
