"""What google-auth's external_account_authorized_user does, against a loopback FakeStsServer.

Reads a JSON list of cases on stdin, each {"info": the credentials file (its token_url on the
case's own fake STS), "refreshes": how many}, and prints for each, as a JSON list on stdout:
the error `from_info` raised ("build_error"), else the file written back before any refresh
("to_json_before"), the error of each refresh or null ("errors"), and the state after them
("refresh_token", "token", and "to_json_after" without the expiry, which is the wall clock's).
The requests themselves are recorded by the fake STS. No proxy is used.
"""
import json
import sys

import requests
from google.auth import external_account_authorized_user
from google.auth.transport.requests import Request


def message(error):
    # OAuthError carries (details, response body): the details are the message.
    return str(error.args[0]) if error.args else str(error)


def run(case, request):
    try:
        creds = external_account_authorized_user.Credentials.from_info(case["info"])
    except Exception as error:  # noqa: BLE001 - the text is what is compared
        return {"build_error": message(error)}
    result = {"build_error": None, "to_json_before": creds.to_json(), "errors": []}
    for _ in range(case["refreshes"]):
        try:
            creds.refresh(request)
            result["errors"].append(None)
        except Exception as error:  # noqa: BLE001
            result["errors"].append(message(error))
    result["refresh_token"] = creds.refresh_token
    result["token"] = creds.token
    result["to_json_after"] = creds.to_json(strip=["expiry"])
    return result


def main():
    cases = json.load(sys.stdin)
    session = requests.Session()
    session.trust_env = False
    request = Request(session)
    json.dump([run(case, request) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
