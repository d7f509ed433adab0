#!/usr/bin/env python3
"""Independent generator for Ringback's version-1 test vectors.

Writes caller_key.json and seal.json next to this file. It shares no code with the Rust crate: it
normalises with Python's `phonenumbers` (Google's libphonenumber port) and computes HKDF, HMAC and
AES-GCM with `cryptography`, following DESIGN.md, "Exact byte layouts (version 1)". If the Rust tests
(shared/tests/vectors.rs) agree with these files, both implementations agree with the spec.

    pip install phonenumbers cryptography
    python3 shared/tests/vectors/generate.py

Output is deterministic: all keys, peppers and nonces are derived from fixed labels. A change to
the output is a breaking change to the format (see DESIGN.md).

Conventions of the files:
- caller_key.json: `region` is the clinic's default region used to read `input`; `e164` is the
  normalised number; `caller_key` is "v1:" + lowercase hex of HMAC-SHA256.
- seal.json: `plaintext` is the sealed bytes as a UTF-8 string, except for purpose `data-key`,
  where the sealed bytes are a 32-byte data key and `plaintext` is their lowercase hex (the hex text
  itself is not what is sealed). `key_hex` is the data key (or, for `data-key`, the master key).

Only fictional numbers are used:
- GB: Ofcom's drama ranges: mobiles 07700 900000-900999, London 020 7946 0000-0999, Leeds
  0113 496 0000-0999, Birmingham 0121 496 0000-0999, freephone 0808 157 0000-0999.
  libphonenumber rejects the 07700 900 drama mobiles on purpose; Ringback accepts exactly that
  range as mobiles (shared/src/phone.rs, RESERVED_FICTION_MOBILES_GB), and so does this generator.
- AU: ACMA's fictitious numbers: mobiles 0491 570 006/110/156/157/158/159/313/737, landlines
  (02) 5550 xxxx and (03) 7010 xxxx, freephone 1800 160 401.
- US: 555-0100 to 555-0199 in any area code.
- IE: ComReg's drama range (020) 91x xxxx is not valid in libphonenumber, so it cannot be
  normalised. Irish vectors use mobiles 08x 000 0xxx and Dublin 01 000 0xxx instead: valid in
  format, subscriber parts starting 000 that are not known to be assigned, but not formally reserved.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from pathlib import Path

import phonenumbers
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = Path(__file__).resolve().parent

CALLER_KEY_SALT = b"ringback/caller-key/v1"
SEAL_AAD_PREFIX = b"ringback/seal/v1"
SEAL_VERSION = 0x01
DATA_KEY_PURPOSE = "data-key"
GB_DRAMA_MOBILES = range(447700900000, 447700900999 + 1)


def labelled_bytes(label: str, length: int) -> bytes:
    """Deterministic test material: the first `length` bytes of SHA-256(label)."""
    return hashlib.sha256(label.encode("ascii")).digest()[:length]


PEPPERS = {
    "alpha": labelled_bytes("ringback test pepper alpha", 32),
    "beta": labelled_bytes("ringback test pepper beta", 32),
    "short": labelled_bytes("ringback test pepper short", 16),  # the minimum length
}

CLINICS = {
    "smile": "3f2a5c1e-8b4d-4e7a-9c61-2d0b7f4e8a15",
    "harbour": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    "plumbing": "0190f4b2-7c3e-7a10-b5d2-6e8f9a0b1c2d",
}


# ---------------------------------------------------------------------------------------------
# Phone numbers


def is_fiction(e164: str) -> bool:
    """Guards against a real number slipping into the vectors."""
    digits = e164[1:]
    if digits.startswith("44"):
        national = digits[2:]
        return (
            int(digits) in GB_DRAMA_MOBILES
            or national.startswith(("2079460", "1134960", "1214960", "8081570"))
        )
    if digits.startswith("61"):
        national = digits[2:]
        au_mobiles = {f"491570{tail}" for tail in ("006", "110", "156", "157", "158", "159", "313", "737")}
        return national in au_mobiles or national.startswith(("25550", "37010")) or national == "1800160401"
    if digits.startswith("1"):
        national = digits[1:]
        return len(national) == 10 and national[3:8] == "55501"
    if digits.startswith("353"):
        national = digits[3:]
        return (national[:2] in {"83", "85", "86", "87", "89"} and national[2:6] == "0000") or (
            national.startswith("1000")
        )
    return False


def normalise(region: str, text: str) -> str:
    """E.164 per libphonenumber, plus Ofcom's drama mobile range, which it rejects on purpose."""
    number = phonenumbers.parse(text, region)
    assert number.extension is None, text
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    is_drama_mobile = number.country_code == 44 and int(e164[1:]) in GB_DRAMA_MOBILES
    assert phonenumbers.is_valid_number(number) or is_drama_mobile, f"invalid: {region} {text!r}"
    assert is_fiction(e164), f"not a known fiction number: {e164}"
    return e164


# ---------------------------------------------------------------------------------------------
# Caller keys


def clinic_hashing_key(pepper: bytes, clinic_id: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=CALLER_KEY_SALT,
        info=uuid.UUID(clinic_id).bytes,
    ).derive(pepper)


def caller_key(pepper: bytes, clinic_id: str, e164: str) -> str:
    digest = hmac.new(clinic_hashing_key(pepper, clinic_id), e164.encode("ascii"), hashlib.sha256)
    return "v1:" + digest.hexdigest()


# (pepper, clinic, default region, input as typed or as a provider sends it)
CALLER_KEY_CASES = [
    # GB: one number in national and international forms (all give the same key) ...
    ("alpha", "smile", "GB", "07700 900123"),
    ("alpha", "smile", "GB", "+44 7700 900123"),
    ("alpha", "smile", "GB", "0044 7700 900123"),
    ("alpha", "smile", "GB", "+447700900123"),
    # ... the same number at two other clinics and under another pepper (all different keys)
    ("alpha", "harbour", "GB", "07700 900123"),
    ("alpha", "plumbing", "GB", "(07700) 900-123"),
    ("beta", "smile", "GB", "07700 900123"),
    ("alpha", "smile", "GB", "07700-900-456"),
    ("short", "smile", "GB", "07700 900000"),
    ("beta", "harbour", "GB", "+44 7700 900999"),
    ("alpha", "smile", "GB", "020 7946 0123"),
    ("alpha", "smile", "GB", "+44 (0) 20 7946 0123"),
    ("beta", "plumbing", "GB", "0113 496 0456"),
    ("alpha", "harbour", "GB", "0121 496 0789"),
    ("beta", "smile", "GB", "0808 157 0123"),
    ("alpha", "smile", "GB", "+61 491 570 156"),
    ("alpha", "smile", "GB", "00 1 201 555 0123"),
    # AU
    ("alpha", "harbour", "AU", "0491 570 156"),
    ("alpha", "harbour", "AU", "+61 491 570 156"),
    ("alpha", "harbour", "AU", "0011 61 491 570 156"),
    ("alpha", "smile", "AU", "0491 570 156"),
    ("beta", "harbour", "AU", "+61 (0)491 570 157"),
    ("short", "plumbing", "AU", "04 9157 0158"),
    ("beta", "plumbing", "AU", "0491570110"),
    ("alpha", "harbour", "AU", "(02) 5550 0123"),
    ("beta", "harbour", "AU", "03 7010 0199"),
    ("alpha", "plumbing", "AU", "1800 160 401"),
    ("alpha", "harbour", "AU", "0011 44 7700 900123"),
    # US
    ("alpha", "plumbing", "US", "(201) 555-0123"),
    ("alpha", "plumbing", "US", "201-555-0123"),
    ("alpha", "plumbing", "US", "+1 201 555 0123"),
    ("alpha", "plumbing", "US", "1 201 555 0123"),
    ("alpha", "smile", "US", "201.555.0123"),
    ("beta", "plumbing", "US", "(212) 555-0155"),
    ("short", "plumbing", "US", "202 555 0100"),
    ("beta", "harbour", "US", "+12025550199"),
    ("alpha", "plumbing", "US", "011 44 20 7946 0999"),
    ("beta", "plumbing", "US", "011 61 491 570 159"),
    # IE
    ("alpha", "smile", "IE", "085 000 0123"),
    ("alpha", "smile", "IE", "+353 85 000 0123"),
    ("alpha", "smile", "IE", "00353 85 000 0123"),
    ("alpha", "harbour", "IE", "085 000 0123"),
    ("beta", "smile", "IE", "+353 (0)87 000 0100"),
    ("short", "harbour", "IE", "083 000 0199"),
    ("beta", "plumbing", "IE", "01 000 0123"),
    ("alpha", "smile", "IE", "00 44 7700 900789"),
]


def caller_key_vectors() -> list[dict]:
    vectors = []
    for pepper_name, clinic_name, region, text in CALLER_KEY_CASES:
        pepper = PEPPERS[pepper_name]
        clinic_id = CLINICS[clinic_name]
        e164 = normalise(region, text)
        vectors.append(
            {
                "pepper_hex": pepper.hex(),
                "clinic_id": clinic_id,
                "region": region,
                "input": text,
                "e164": e164,
                "caller_key": caller_key(pepper, clinic_id, e164),
            }
        )
    return vectors


# ---------------------------------------------------------------------------------------------
# Sealed values


def seal(key: bytes, key_id: int, clinic_id: str, purpose: str, plaintext: bytes, nonce: bytes) -> bytes:
    aad = SEAL_AAD_PREFIX + uuid.UUID(clinic_id).bytes + purpose.encode("ascii")
    header = bytes([SEAL_VERSION]) + key_id.to_bytes(4, "big") + nonce
    return header + AESGCM(key).encrypt(nonce, plaintext, aad)


MASTER_KEYS = {
    "master-1": labelled_bytes("ringback test master key 1", 32),
    "master-2": labelled_bytes("ringback test master key 2", 32),
}

DATA_KEYS = {
    "smile-1": labelled_bytes("ringback test data key smile 1", 32),
    "smile-2": labelled_bytes("ringback test data key smile 2", 32),
    "harbour-1": labelled_bytes("ringback test data key harbour 1", 32),
    "plumbing-1": labelled_bytes("ringback test data key plumbing 1", 32),
}

# (key name, key id, clinic, purpose, plaintext text; for data-key: the data key's name)
SEAL_CASES = [
    ("smile-1", 1, "smile", "caller-number", "+447700900123"),
    ("smile-1", 1, "smile", "caller-number", "+442079460123"),
    ("smile-2", 2, "smile", "caller-number", "+447700900123"),
    ("harbour-1", 1, "harbour", "caller-number", "+61491570156"),
    ("harbour-1", 0, "harbour", "caller-number", "+12015550123"),
    ("plumbing-1", 0x01020304, "plumbing", "caller-number", "+12025550199"),
    ("plumbing-1", 0xFFFFFFFF, "plumbing", "caller-number", "+353850000123"),
    ("smile-1", 1, "harbour", "caller-number", "+447700900123"),
    ("smile-1", 7, "smile", "caller-number", ""),
    ("master-1", 1, "smile", DATA_KEY_PURPOSE, "smile-1"),
    ("master-1", 1, "smile", DATA_KEY_PURPOSE, "smile-2"),
    ("master-1", 1, "harbour", DATA_KEY_PURPOSE, "harbour-1"),
    ("master-2", 2, "plumbing", DATA_KEY_PURPOSE, "plumbing-1"),
]


def seal_vectors() -> list[dict]:
    vectors = []
    for index, (key_name, key_id, clinic_name, purpose, text) in enumerate(SEAL_CASES):
        clinic_id = CLINICS[clinic_name]
        if purpose == DATA_KEY_PURPOSE:
            key = MASTER_KEYS[key_name]
            plaintext = DATA_KEYS[text]
            plaintext_field = plaintext.hex()
        else:
            key = DATA_KEYS[key_name]
            plaintext = text.encode("utf-8")
            plaintext_field = text
            assert text == "" or is_fiction(text), text
        nonce = labelled_bytes(f"ringback test nonce {index}", 12)
        vectors.append(
            {
                "key_hex": key.hex(),
                "key_id": key_id,
                "clinic_id": clinic_id,
                "purpose": purpose,
                "plaintext": plaintext_field,
                "nonce_hex": nonce.hex(),
                "sealed_hex": seal(key, key_id, clinic_id, purpose, plaintext, nonce).hex(),
            }
        )
    return vectors


def write_json(name: str, vectors: list[dict]) -> None:
    path = HERE / name
    path.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(vectors)} vectors to {path}")


def main() -> None:
    write_json("caller_key.json", caller_key_vectors())
    write_json("seal.json", seal_vectors())


if __name__ == "__main__":
    main()
