"""Times google-auth's RSASigner.sign (cryptography's RSA PKCS#1 v1.5 with SHA-256) on a
service-account key file and the same 1 KiB message as benches/sign.rs, and its whole
assertion (google.auth.jwt.encode); prints one line each: "<name>: <median> us/op".

Usage: python google_auth_sign.py KEY_FILE
"""

import json
import statistics
import sys
import timeit

from google.auth import crypt, jwt


def per_op_us(fn, number):
    runs = timeit.repeat(fn, number=number, repeat=15)
    return statistics.median(runs) / number * 1e6


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        info = json.load(f)
    signer = crypt.RSASigner.from_service_account_info(info)
    message = bytes(i % 251 for i in range(1024))
    claims = {
        "iat": 1700000000,
        "exp": 1700003600,
        "iss": info["client_email"],
        "aud": "https://oauth2.googleapis.com/token",
        "scope": "https://www.googleapis.com/auth/cloud-platform",
    }
    print("google-auth sign/1 KiB: {:.1f} us/op".format(per_op_us(lambda: signer.sign(message), 200)))
    print("google-auth sign/jwt assertion: {:.1f} us/op".format(per_op_us(lambda: jwt.encode(signer, claims), 200)))


if __name__ == "__main__":
    main()
