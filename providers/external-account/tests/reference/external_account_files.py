"""What google-auth says of malformed external_account files.

Reads a JSON list of files on stdin; for each, builds the class the reference's ADC would
(`google.auth._default._get_external_account_credentials`: AWS by the subject token type, an
executable by its member, else an identity pool) and prints, as a JSON list, the text of the
exception it raises (null when it raises none).
"""

import json
import sys

from google.auth import aws, identity_pool, pluggable

AWS = "urn:ietf:params:aws:token-type:aws4_request"


def load(info):
    source = info.get("credential_source")
    if info.get("subject_token_type") == AWS:
        return aws.Credentials.from_info(info)
    if isinstance(source, dict) and source.get("executable") is not None:
        return pluggable.Credentials.from_info(info)
    return identity_pool.Credentials.from_info(info)


out = []
for info in json.load(sys.stdin):
    try:
        load(info)
        out.append(None)
    except Exception as err:  # noqa: BLE001 - the text is what is compared
        out.append(str(err))
print(json.dumps(out))
