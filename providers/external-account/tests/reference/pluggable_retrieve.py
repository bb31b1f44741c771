"""What google-auth's executable-sourced credentials (`pluggable.Credentials`) make of a case.

Reads a JSON list of cases on stdin. For each: the `external_account` info, the text to leave in
the executable's output file beforehand (`cache`, or null for no file), and whether executables
are allowed. Builds `pluggable.Credentials.from_info(info)` and calls
`retrieve_subject_token(None)` (no request is made: the token comes from the program or its
output file). Prints a JSON list on stdout: for each case, `{"token": ...}` or
`{"error": class name, "message": text}`.
"""
import json
import os
import sys

from google.auth import pluggable

ALLOW = "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES"


def prepare(case):
    if case.get("allow", True):
        os.environ[ALLOW] = "1"
    else:
        os.environ.pop(ALLOW, None)
    output_file = case["info"]["credential_source"]["executable"].get("output_file")
    if output_file:
        if case.get("cache") is None:
            if os.path.exists(output_file):
                os.remove(output_file)
        else:
            with open(output_file, "w", encoding="utf-8") as f:
                f.write(case["cache"])


def run(case):
    prepare(case)
    try:
        credentials = pluggable.Credentials.from_info(case["info"])
        token = credentials.retrieve_subject_token(None)
    except Exception as e:  # the class and message are what is compared
        return {"error": type(e).__name__, "message": str(e)}
    return {"token": token}


def main():
    cases = json.load(sys.stdin)
    json.dump([run(case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
