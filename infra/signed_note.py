"""An independent check of our checkpoints: C2SP signed-note and tlog-checkpoint verification
written from the specs (c2sp.org/signed-note, c2sp.org/tlog-checkpoint) with Python's
`cryptography` Ed25519, sharing no code with the Rust service. The integration tests run it on
the service's checkpoints (tests/api/integrity.rs).

usage: python signed_note.py VERIFIER_KEY NOTE_FILE
prints `origin size root-hex` and exits 0 when the note carries a valid signature by the key and
its text is a checkpoint whose origin is the key's name; exits 1 otherwise.
"""

import base64
import hashlib
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(message):
    print(f"signed_note.py: {message}", file=sys.stderr)
    sys.exit(1)


def parse_key(text):
    # <name>+<8 hex digits of key id>+<base64(type byte || public key)>; base64 may hold '+'.
    name, key_id, material = text.strip().split("+", 2)
    raw = base64.b64decode(material, validate=True)
    if raw[0] != 0x01 or len(raw) != 33:
        fail("not an Ed25519 verifier key")
    expected = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if bytes.fromhex(key_id) != expected:
        fail("the key id does not match the key's name and material")
    return name, expected, Ed25519PublicKey.from_public_bytes(raw[1:])


def main():
    if len(sys.argv) != 3:
        fail("usage: signed_note.py VERIFIER_KEY NOTE_FILE")
    name, key_id, public = parse_key(sys.argv[1])
    note = open(sys.argv[2], "rb").read().decode("utf-8")
    text, sep, signatures = note.partition("\n\n")
    if not sep:
        fail("no blank line between text and signatures")
    text += "\n"
    verified = False
    for line in signatures.splitlines():
        prefix = "\u2014 "
        if not line.startswith(prefix):
            fail(f"malformed signature line {line!r}")
        signer, _, blob = line[len(prefix):].partition(" ")
        sig = base64.b64decode(blob, validate=True)
        if signer != name or sig[:4] != key_id:
            continue
        try:
            public.verify(sig[4:], text.encode("utf-8"))
        except InvalidSignature:
            fail("the signature by the known key does not verify")
        verified = True
    if not verified:
        fail("no signature by the known key")
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        fail("a checkpoint has an origin, a size and a root")
    origin, size, root = lines[0], lines[1], base64.b64decode(lines[2], validate=True)
    if origin != name:
        fail(f"origin {origin!r} is not the key's name {name!r}")
    if not size.isdigit() or (size != "0" and size.startswith("0")) or len(root) != 32:
        fail("malformed checkpoint size or root")
    print(origin, int(size), root.hex())


if __name__ == "__main__":
    main()
