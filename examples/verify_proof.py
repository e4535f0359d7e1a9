#!/usr/bin/env python3
"""Checks a chainlanes entry proof without trusting the gateway.

Written from docs/protocol.md alone (sections 8-10), as an independent second
implementation: it shares no code with the gateway.

    curl -s http://127.0.0.1:9001/v1/chains/demo/entries/0 | python3 verify_proof.py
    python3 verify_proof.py proof.json --directory-hash HEX

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

USAGE = "usage: verify_proof.py [--directory-hash HEX] [PROOF.json]   (reads stdin without a file)"


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


def verify(proof, trusted_directory_hash=None):
    if not isinstance(proof, dict):
        raise Broken("proof is not a JSON object")
    entry_hash = check_content(proof)
    chain_id = check_chain(proof)
    block_hash = check_block(proof, entry_hash, chain_id)
    directory = proof.get("directory")
    if directory is None:
        if trusted_directory_hash is not None:
            raise Broken("proof has no directory, but a trusted directory hash was given")
        return
    directory_hash = check_directory(directory, chain_id, block_hash)
    if trusted_directory_hash is not None and directory_hash != trusted_directory_hash:
        raise Broken("directory hash differs from the trusted one")


def parse_args(argv):
    trusted = None
    path = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--directory-hash" and i + 1 < len(argv):
            value = argv[i + 1]
            if len(value) != 2 * HASH_BYTES or not set(value) <= HEX_DIGITS:
                raise ValueError("--directory-hash must be 64 hex digits")
            trusted = bytes.fromhex(value)
            i += 2
        elif arg.startswith("--directory-hash="):
            return parse_args(argv[:i] + ["--directory-hash", arg.split("=", 1)[1]] + argv[i + 1:])
        elif arg.startswith("-") and arg != "-":
            raise ValueError(f"unknown option {arg}")
        elif path is None:
            path = arg
            i += 1
        else:
            raise ValueError("more than one proof file given")
    return trusted, path


def main(argv):
    try:
        trusted, path = parse_args(argv)
    except ValueError as error:
        print(f"{error}\n{USAGE}", file=sys.stderr)
        return 2
    if path is None and sys.stdin.isatty():
        # Nothing piped in: say what is wanted instead of waiting silently for a proof to be typed.
        print(f"no proof given: pipe one in (curl -s …/entries/SEQ | python3 verify_proof.py) or name a file\n{USAGE}", file=sys.stderr)
        return 2
    try:
        if path is None or path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as error:
        print(f"cannot read {path}: {error.strerror}", file=sys.stderr)
        return 2
    try:
        try:
            proof = json.loads(text)
        except ValueError as error:
            raise Broken(f"not JSON: {error}") from None
        verify(proof, trusted)
    except Broken as broken:
        print(f"BROKEN: {broken}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
