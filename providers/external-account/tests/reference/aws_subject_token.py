"""What google-auth's AWS source returns: `aws.Credentials.retrieve_subject_token`, at a fixed
time, against the metadata service the credential_source names (credkit's
FakeAwsMetadataServer in the wire test, which records what was sent) and the AWS_* variables of
this process's environment.

Reads one JSON object on stdin:
  {"now": "2020-08-11T06:55:22.345000", "audience": "...", "credential_source": {...}}
  or, with "supplier": {"region", "access_key_id", "secret_access_key", "session_token"}
  instead of a credential_source, a programmatic AwsSecurityCredentialsSupplier.
Prints {"subject_token": "..."} or {"error": "..."} as one JSON line.
"""

import datetime
import json
import sys
from unittest import mock

from google.auth import _helpers, aws
from google.auth.transport.requests import Request

AWS = "urn:ietf:params:aws:token-type:aws4_request"


class Supplier(aws.AwsSecurityCredentialsSupplier):
    def __init__(self, spec):
        self._spec = spec

    def get_aws_security_credentials(self, context, request):
        return aws.AwsSecurityCredentials(
            self._spec["access_key_id"],
            self._spec["secret_access_key"],
            self._spec.get("session_token"),
        )

    def get_aws_region(self, context, request):
        return self._spec["region"]


def main(config):
    now = datetime.datetime.fromisoformat(config["now"])
    info = {
        "type": "external_account",
        "audience": config["audience"],
        "subject_token_type": AWS,
        "token_url": "https://sts.googleapis.com/v1/token",
    }
    kwargs = {}
    if "supplier" in config:
        kwargs["aws_security_credentials_supplier"] = Supplier(config["supplier"])
    else:
        info["credential_source"] = config["credential_source"]
    # The signer reads the time through _helpers.utcnow: fixed here, as credkit's FakeClock.
    with mock.patch.object(_helpers, "utcnow", return_value=now):
        try:
            credentials = aws.Credentials.from_info(info, **kwargs)
            return {"subject_token": credentials.retrieve_subject_token(Request())}
        except Exception as err:  # noqa: BLE001 - the text is what is compared
            return {"error": str(err)}


if __name__ == "__main__":
    print(json.dumps(main(json.load(sys.stdin))))
