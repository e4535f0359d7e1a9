#!/usr/bin/env python3
"""Checks a chainlanes entry proof, signed head or consistency proof without
trusting the gateway.

Written from docs/protocol.md alone (sections 8-10 and 13), as an independent
second implementation: it shares no code with the gateway.

    curl -s http://127.0.0.1:9001/v1/chains/demo/entries/0 | python3 verify_proof.py
    python3 verify_proof.py proof.json --directory-hash HEX
    curl -s 'http://127.0.0.1:9001/v1/chains/demo/entries/0?head=latest' | python3 verify_proof.py --key HEX
    python3 verify_proof.py --head HEAD.json --key HEX
    python3 verify_proof.py --consistency OLD_HEAD.json NEW_HEAD.json PROOF.json [--key HEX]

--key is the gateway's Ed25519 public key (64 hex digits) you trust, e.g. from
GET /v1/directory/key when you first met the gateway. Only the signature check
needs more than the standard library: the "cryptography" package. Without it
the tree checks still run, and the output says the signature was NOT checked.

Prints OK and exits 0, or prints "BROKEN: <reason>" and exits 1.
Exits 2 on a usage error.
"""
import base64
import hashlib
import json
import sys

ENTRY_HEADER_BYTES = 124
DIRECTORY_HEADER_BYTES = 84
HASH_BYTES = 32
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-")
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
ZERO_HASH = bytes(HASH_BYTES)
HEAD_MAGIC = b"CL-HEAD1"
SIGNATURE_BYTES = 64
KEY_BYTES = 32

USAGE = """usage: verify_proof.py [--directory-hash HEX] [--key HEX] [PROOF.json]   (reads stdin without a file)
       verify_proof.py --head HEAD.json --key HEX
       verify_proof.py --consistency OLD_HEAD.json NEW_HEAD.json PROOF.json [--key HEX]"""


class Broken(Exception):
    pass


def sha256(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.digest()


def leaf(data):
    return sha256(b"\x00", data)


def node(left, right):
    return sha256(b"\x01", left, right)


def field(obj, name, where):
    if not isinstance(obj, dict):
        raise Broken(f"{where or 'proof'} is not a JSON object")
    if name not in obj:
        raise Broken(f"{where}{name} is missing")
    return obj[name]


def hex_bytes(obj, name, size, where=""):
    return hex_value(field(obj, name, where), size, f"{where}{name}")


def hex_value(value, size, label):
    # bytes.fromhex alone would accept spaces, so the digits are checked first.
    if not isinstance(value, str) or len(value) != 2 * size or not set(value) <= HEX_DIGITS:
        raise Broken(f"{label} is not {size} bytes of hex")
    return bytes.fromhex(value)


def integer(obj, name, maximum, where=""):
    value = field(obj, name, where)
    # bool is a subclass of int in Python, and true must not pass as 1.
    if isinstance(value, bool):
        raise Broken(f"{where}{name} is not an integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0 or value > maximum:
        raise Broken(f"{where}{name} is not an integer from 0 to {maximum}")
    return value


def hash_list(obj, name, where=""):
    value = field(obj, name, where)
    if not isinstance(value, list):
        raise Broken(f"{where}{name} is not an array")
    return [hex_value(item, HASH_BYTES, f"{where}{name}[{i}]") for i, item in enumerate(value)]


def root_from_path(leaf_hash, index, size, path):
    """RFC 9162 section 2.1.3.2; None when the path cannot belong to such a tree."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_consistency(size1, size2, root1, root2, path):
    """RFC 9162 section 2.1.4.2: the log of size1 with root1 is a prefix of the log of size2 with root2."""
    if size1 > size2:
        raise Broken(f"the older size {size1} is larger than the newer {size2}")
    if size1 == size2:
        if path:
            raise Broken("a consistency proof between equal sizes must be empty")
        if root1 != root2:
            raise Broken(f"two different roots for the same size {size1}")
        return
    if size1 == 0:
        if path:
            raise Broken("a consistency proof from size 0 must be empty")
        return
    if not path:
        raise Broken("the consistency path is empty")
    nodes = ([root1] if size1 & (size1 - 1) == 0 else []) + list(path)
    fn, sn = size1 - 1, size2 - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            raise Broken("the consistency path is too long")
        if fn % 2 == 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Broken("the consistency path is too short")
    if fr != root1:
        raise Broken(f"the consistency path does not reproduce the root of size {size1}")
    if sr != root2:
        raise Broken(f"the consistency path does not reproduce the root of size {size2}")


def verify_inclusion(leaf_data, index, size, path, root):
    """The audit path of leaf_data (a directory hash) at index leads to the root of the log of size."""
    computed = root_from_path(leaf(leaf_data), index, size, path)
    if computed is None:
        raise Broken(f"the path does not fit index {index} in a log of {size}")
    if computed != root:
        raise Broken(f"the path does not lead to the root of the log of {size}")


def head_message(key, size, time, root):
    """The 88 bytes a gateway signs (protocol.md section 13.2)."""
    return HEAD_MAGIC + sha256(key) + size.to_bytes(8, "big") + time.to_bytes(8, "big") + root


def ed25519_checker():
    """A function (key, signature, message) -> bool, or None when the cryptography package is missing."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return None

    def check(key, signature, message):
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            return False
    return check


def check_signed_head(head, key, where="head."):
    """Shapes of a signed head; with a key, its signature. Returns (size, root, signature checked?)."""
    size = integer(head, "size", U64_MAX, where)
    root = hex_bytes(head, "root", HASH_BYTES, where)
    if key is None:
        return size, root, False
    time = integer(head, "time", U64_MAX, where)
    signature = hex_bytes(head, "signature", SIGNATURE_BYTES, where)
    check = ed25519_checker()
    if check is None:
        return size, root, False
    if not check(key, signature, head_message(key, size, time, root)):
        raise Broken(f"the signature of the head of size {size} does not verify under the key given")
    return size, root, True


def u64(data, at):
    return int.from_bytes(data[at:at + 8], "big")


def u32(data, at):
    return int.from_bytes(data[at:at + 4], "big")


def check_content(proof):
    content = field(proof, "content", "")
    if not isinstance(content, str):
        raise Broken("content is not a base64 string")
    try:
        raw = base64.b64decode(content, validate=True)
    except (ValueError, TypeError):
        raise Broken("content is not valid base64") from None
    # Several strings can decode to the same bytes; only the canonical one is the content.
    if base64.b64encode(raw).decode("ascii") != content:
        raise Broken("content is not canonical base64")
    entry_hash = hex_bytes(proof, "hash", HASH_BYTES)
    if sha256(raw) != entry_hash:
        raise Broken("hash is not SHA-256 of the content")
    return entry_hash


def check_chain(proof):
    chain = field(proof, "chain", "")
    if not isinstance(chain, str) or not 1 <= len(chain) <= 128 or not set(chain) <= NAME_CHARS:
        raise Broken("chain is not a valid chain name")
    chain_id = hex_bytes(proof, "chainId", HASH_BYTES)
    if sha256(chain.encode("utf-8")) != chain_id:
        raise Broken("chainId is not SHA-256 of the chain name")
    return chain_id


def check_block(proof, entry_hash, chain_id):
    seq = integer(proof, "seq", U64_MAX)
    height = integer(proof, "height", U64_MAX)
    index = integer(proof, "index", U32_MAX)
    count = integer(proof, "count", U32_MAX)
    path = hash_list(proof, "path")
    root = hex_bytes(proof, "root", HASH_BYTES)
    if index >= count:
        raise Broken(f"index {index} is not below count {count}")
    computed = root_from_path(leaf(entry_hash), index, count, path)
    if computed is None:
        raise Broken("path does not fit index and count")
    if computed != root:
        raise Broken("path does not lead to the block root")

    header = hex_bytes(proof, "header", ENTRY_HEADER_BYTES)
    if header[0:32] != chain_id:
        raise Broken("header chainId differs from chainId")
    if u64(header, 32) != height:
        raise Broken("header height differs from height")
    if height == 0 and header[40:72] != ZERO_HASH:
        raise Broken("header prevHash is not zero at height 0")
    if header[72:104] != root:
        raise Broken("header root differs from root")
    if u32(header, 112) != count:
        raise Broken("header count differs from count")
    if u64(header, 104) + index != seq:
        raise Broken("header firstSeq + index is not seq")

    block_hash = hex_bytes(proof, "blockHash", HASH_BYTES)
    if sha256(header) != block_hash:
        raise Broken("blockHash is not SHA-256 of the header")
    return block_hash


def check_directory(directory, chain_id, block_hash):
    where = "directory."
    height = integer(directory, "height", U64_MAX, where)
    index = integer(directory, "index", U32_MAX, where)
    count = integer(directory, "count", U32_MAX, where)
    path = hash_list(directory, "path", where)
    root = hex_bytes(directory, "root", HASH_BYTES, where)
    if index >= count:
        raise Broken(f"directory.index {index} is not below directory.count {count}")
    computed = root_from_path(leaf(sha256(chain_id, block_hash)), index, count, path)
    if computed is None:
        raise Broken("directory.path does not fit directory.index and directory.count")
    if computed != root:
        raise Broken("directory.path does not lead to the directory root")

    header = hex_bytes(directory, "header", DIRECTORY_HEADER_BYTES, where)
    if u64(header, 0) != height:
        raise Broken("directory header height differs from directory.height")
    if height == 0 and header[8:40] != ZERO_HASH:
        raise Broken("directory header prevHash is not zero at height 0")
    if header[40:72] != root:
        raise Broken("directory header root differs from directory.root")
    if u32(header, 72) != count:
        raise Broken("directory header count differs from directory.count")

    directory_hash = hex_bytes(directory, "hash", HASH_BYTES, where)
    if sha256(header) != directory_hash:
        raise Broken("directory.hash is not SHA-256 of the directory header")
    return directory_hash


def check_head_part(head, directory, directory_hash, key):
    """The proof's head part: the directory hash's path into the signed head. Returns whether its signature was checked."""
    where = "head."
    size, root, signed = check_signed_head(head, key, where)
    height = integer(directory, "height", U64_MAX, "directory.")
    verify_inclusion(directory_hash, height, size, hash_list(head, "path", where), root)
    return signed


def verify(proof, trusted_directory_hash=None, key=None):
    """Checks an entry proof; returns whether a head signature was checked (False: none, or no cryptography package)."""
    if not isinstance(proof, dict):
        raise Broken("proof is not a JSON object")
    entry_hash = check_content(proof)
    chain_id = check_chain(proof)
    block_hash = check_block(proof, entry_hash, chain_id)
    directory = proof.get("directory")
    head = proof.get("head")
    if directory is None:
        if trusted_directory_hash is not None:
            raise Broken("proof has no directory, but a trusted directory hash was given")
        if head is not None:
            raise Broken("proof has a head part but no directory part")
        return False
    directory_hash = check_directory(directory, chain_id, block_hash)
    if trusted_directory_hash is not None and directory_hash != trusted_directory_hash:
        raise Broken("directory hash differs from the trusted one")
    if head is None:
        if key is not None:
            raise Broken("a key was given but the proof has no head part (ask with ?head=latest)")
        return False
    return check_head_part(head, directory, directory_hash, key)


def verify_heads(old_head, new_head, proof, key=None):
    """Two signed heads and the consistency proof between them; returns whether their signatures were checked."""
    size1, root1, signed = check_signed_head(old_head, key, "old head.")
    size2, root2, _ = check_signed_head(new_head, key, "new head.")
    verify_consistency(size1, size2, root1, root2, hash_list(proof, "path"))
    return signed


def hex_option(value, size, name):
    if len(value) != 2 * size or not set(value) <= HEX_DIGITS:
        raise ValueError(f"{name} must be {2 * size} hex digits")
    return bytes.fromhex(value)


def parse_args(argv):
    """Options and the files named: {'directory_hash', 'key', 'mode', 'files'}."""
    args = {"directory_hash": None, "key": None, "mode": "entry", "files": []}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if "=" in arg and arg.startswith("--"):
            name, value = arg.split("=", 1)
            argv = argv[:i] + [name, value] + argv[i + 1:]
            continue
        if arg in ("--directory-hash", "--key"):
            if i + 1 >= len(argv):
                raise ValueError(f"{arg} needs a value")
            if arg == "--key":
                args["key"] = hex_option(argv[i + 1], KEY_BYTES, "--key")
            else:
                args["directory_hash"] = hex_option(argv[i + 1], HASH_BYTES, "--directory-hash")
            i += 2
        elif arg in ("--head", "--consistency"):
            args["mode"] = arg[2:]
            i += 1
        elif arg.startswith("-") and arg != "-":
            raise ValueError(f"unknown option {arg}")
        else:
            args["files"].append(arg)
            i += 1
    wanted = {"entry": (0, 1), "head": (1, 1), "consistency": (3, 3)}[args["mode"]]
    if not wanted[0] <= len(args["files"]) <= wanted[1]:
        raise ValueError(f"--{args['mode']} takes {wanted[1]} file(s)" if args["mode"] != "entry" else "more than one proof file given")
    if args["mode"] == "head" and args["key"] is None:
        raise ValueError("--head needs --key")
    return args


def read_json(path):
    """The JSON document in a file (or stdin for None or -); Broken when it is not JSON, OSError when unreadable."""
    if path is None or path == "-":
        text = sys.stdin.read()
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    try:
        return json.loads(text)
    except ValueError as error:
        raise Broken(f"{path or 'stdin'} is not JSON: {error}") from None


def main(argv):
    try:
        args = parse_args(argv)
    except ValueError as error:
        print(f"{error}\n{USAGE}", file=sys.stderr)
        return 2
    files, key = args["files"], args["key"]
    if not files and sys.stdin.isatty():
        # Nothing piped in: say what is wanted instead of waiting silently for a proof to be typed.
        print(f"no proof given: pipe one in (curl -s …/entries/SEQ | python3 verify_proof.py) or name a file\n{USAGE}", file=sys.stderr)
        return 2
    try:
        documents = [read_json(path) for path in (files or [None])]
    except OSError as error:
        print(f"cannot read {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    except Broken as broken:
        print(f"BROKEN: {broken}")
        return 1
    try:
        if args["mode"] == "head":
            _, _, signed = check_signed_head(documents[0], key, "")
        elif args["mode"] == "consistency":
            signed = verify_heads(documents[0], documents[1], documents[2], key)
        else:
            signed = verify(documents[0], args["directory_hash"], key)
    except Broken as broken:
        print(f"BROKEN: {broken}")
        return 1
    if key is not None and not signed:
        print('OK, but the head signature was NOT checked: the Python package "cryptography" is not installed')
    else:
        print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
