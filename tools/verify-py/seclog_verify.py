#!/usr/bin/env python3
"""Independent verifier of security-logs export evidence, written from docs/design/integrity.md ("Export
evidence") and docs/api.md (the CSV). Exit 0 and "OK: ..." when the evidence verifies, 1 and
"FAILED: <reason>" when not, 2 on usage errors. See tools/verify-py/README.md."""
import argparse, base64, binascii, csv, hashlib, io, ipaddress, json, os, re, sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

class Fail(Exception): pass  # the evidence does not verify (exit 1), as does any ValueError in verify()
class Usage(Exception): pass  # exit 2

def need(ok, why):
    if not ok:
        raise Fail(why)

LABELS = {"login": "Login", "login.failed": "Failed Login", "password.changed": "Password Changed",
          "api_key.viewed": "API Key Viewed", "api_key.regenerated": "API Key Regenerated",
          "account_settings.changed": "Account Settings Changed",
          "payout_account.updated": "Payout Account Updated",
          "kyc_document.changed": "KYC/KYB Document Changed",
          "security_logs.exported": "Security Logs Exported",
          "security_logs.stream_created": "Security Log Stream Created",
          "security_logs.stream_deleted": "Security Log Stream Deleted",
          "security_logs.stream_replayed": "Security Log Stream Replayed"}
HEADER = ["Timestamp", "Timestamp (UTC)", "Event Type", "User", "Device", "IP Address", "Location",
          "Details", "Event ID", "Received (UTC)", "Unfamiliar"]
REASONS = {"new_device": "new device", "new_network": "new network", "new_country": "new country"}
ENTRY_REQUIRED = {"id", "type", "occurred_at", "actor", "details", "summary", "received_at"}
ENTRY_MEMBERS = dict(id=str, type=str, occurred_at=str, actor=dict, ip=str, user_agent=str, device=str, location=dict,
                     details=dict, summary=str, event_id=str, received_at=str, producer=str, unfamiliar=dict)
LEAF_KEYS = {"actor_id", "entry_sha256", "occurred_at", "type", "unfamiliar", "v"}
NS = 10 ** 9
EPOCH = datetime(1970, 1, 1)

# ---- JSON: duplicate members and NaN/Infinity are refused; numbers are never re-serialized.
def _no_dups(pairs):
    obj = {}
    for k, v in pairs:
        need(k not in obj, f"duplicate member {k!r}")
        obj[k] = v
    return obj

def _no_constant(c): raise Fail(f"{c} is not JSON")

DEC = json.JSONDecoder(object_pairs_hook=_no_dups, parse_constant=_no_constant)

class Cursor:
    """Reads one evidence line strictly: fixed literals and JSON values, keeping each value's text."""
    def __init__(self, text, what): self.s, self.p, self.what = text, 0, what
    def lit(self, t):
        need(self.s.startswith(t, self.p), f"{self.what}: expected {t!r} at column {self.p + 1}")
        self.p += len(t)
    def val(self):
        try:
            v, end = DEC.raw_decode(self.s, self.p)
        except json.JSONDecodeError as e:
            raise Fail(f"{self.what}: {e.msg} at column {e.pos + 1}")
        raw, self.p = self.s[self.p:end], end
        return v, raw
    def end(self): need(self.p == len(self.s), f"{self.what}: unexpected text at column {self.p + 1}")

def nat(v, what):
    need(type(v) is int and v >= 0, f"{what} is not a non-negative integer: {v!r}")
    return v

def jstr(s):  # a string as RFC 8785 writes it
    esc = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
    return '"' + "".join(esc.get(c) or (f"\\u{ord(c):04x}" if c < " " else c) for c in s) + '"'

# ---- Time: instants are integer nanoseconds since 1970 (Python's datetime stops at microseconds).
TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?([Zz]|[+-]\d\d:\d\d)\Z")
MAX_NS = ((datetime(9999, 12, 30, 22) - EPOCH) // timedelta(seconds=1)) * NS + NS - 1

def parse_time(text, what):
    """RFC 3339 with an offset, as docs/api.md accepts it in request bodies."""
    m = TIME.match(text) if isinstance(text, str) else None
    need(m, f"{what} is not an RFC 3339 time: {text!r}")
    y, mo, d, h, mi, s = map(int, m.groups()[:6])
    secs = (datetime(y, mo, d, h, mi, min(s, 59)) - EPOCH) // timedelta(seconds=1)  # ValueError: no such date
    off = m[8]
    if off not in "Zz":
        need(int(off[1:3]) < 24 and int(off[4:6]) < 60, f"{what} has a bad offset: {text!r}")
        secs -= (-1 if off[0] == "-" else 1) * (int(off[1:3]) * 3600 + int(off[4:6]) * 60)
    need(s < 60 or secs % 86400 == 86399, f"{what}: second 60 outside 23:59:60 UTC: {text!r}")
    return min(secs * NS + int((m[7] or "").ljust(9, "0")), MAX_NS)

def utc_text(ns):
    s, f = divmod(ns, NS)
    t = EPOCH + timedelta(seconds=s)
    frac = f"{f:09d}".rstrip("0")
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
            + (f".{frac}" if frac else "") + "Z")

def canonical_time(text, what):
    ns = parse_time(text, what)
    need(utc_text(ns) == text, f"{what} is not a canonical UTC timestamp: {text!r}")
    return ns

def csv_time(ns, zone):  # jiff's "%Y-%m-%d %H:%M:%S %:z": seconds truncated, offset seconds only if any
    t = datetime.fromtimestamp(ns // NS, zone)
    off = int(t.utcoffset().total_seconds())
    a = abs(off)
    o = f"{'-' if off < 0 else '+'}{a // 3600:02d}:{a // 60 % 60:02d}" + (f":{a % 60:02d}" if a % 60 else "")
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d} {o}"

def find_zone(name):
    need(isinstance(name, str) and name, f"filters.tz is not a time zone name: {name!r}")
    spelled = {z.lower(): z for z in available_timezones()}.get(name.lower())
    need(spelled, f"filters.tz: unknown time zone {name!r}")
    return ZoneInfo(spelled)

# ---- Leaves and entries.
def leaf_text(actor_id, sha_hex, occurred_at, typ, unfamiliar):
    return (f'{{"actor_id":{jstr(actor_id)},"entry_sha256":"{sha_hex}","occurred_at":{jstr(occurred_at)},'
            f'"type":{jstr(typ)},"unfamiliar":{"true" if unfamiliar else "false"},"v":1}}')

def leaf_hash(text, what):
    return hashlib.sha256(b"\x00" + text.encode()).digest()

def read_leaf(text, k):
    """A leaf data string in its one canonical form -> (type, occurred_at ns, actor id, flag)."""
    what = f"leaf {k}"
    d = DEC.decode(text)
    need(isinstance(d, dict) and set(d) == LEAF_KEYS, f"{what} does not have exactly the leaf members")
    need(all(isinstance(d[m], str) for m in ("actor_id", "entry_sha256", "occurred_at", "type"))
         and type(d["unfamiliar"]) is bool and type(d["v"]) is int and d["v"] == 1,
         f"{what} has a member of the wrong type or version")
    need(re.fullmatch(r"[0-9a-f]{64}", d["entry_sha256"]), f"{what}: entry_sha256 is not 64 lowercase hex")
    canon = leaf_text(d["actor_id"], d["entry_sha256"], d["occurred_at"], d["type"], d["unfamiliar"])
    need(canon == text, f"{what} is not in canonical form")
    return d["type"], canonical_time(d["occurred_at"], f"{what} occurred_at"), d["actor_id"], d["unfamiliar"]

def read_entry(e, raw, what):
    """A full entry (its JSON text as in the file) -> (leaf hash, occurred_at ns, received_at ns)."""
    need(isinstance(e, dict) and ENTRY_REQUIRED <= set(e) and set(e) <= set(ENTRY_MEMBERS)
         and all(isinstance(v, ENTRY_MEMBERS[m]) for m, v in e.items()), f"{what}: missing, unknown or mistyped members")
    a = e["actor"]
    need(isinstance(a, dict) and "id" in a and set(a) <= {"id", "name", "email"}
         and all(isinstance(v, str) for v in a.values()), f"{what}: bad actor")
    loc = e.get("location", {})
    need(isinstance(loc, dict) and set(loc) <= {"country", "region", "city"}
         and all(isinstance(v, str) for v in loc.values()), f"{what}: bad location")
    u = e.get("unfamiliar", {"reasons": []})
    need(isinstance(u, dict) and set(u) == {"reasons"} and isinstance(u["reasons"], list)
         and all(r in REASONS for r in u["reasons"]), f"{what}: bad unfamiliar")
    need(e["type"] in LABELS, f"{what}: unknown type {e['type']!r}")
    occ = canonical_time(e["occurred_at"], f"{what} occurred_at")
    rec = canonical_time(e["received_at"], f"{what} received_at")
    sha = hashlib.sha256(raw.encode()).hexdigest()
    return leaf_hash(leaf_text(a["id"], sha, e["occurred_at"], e["type"], "unfamiliar" in e), what), occ, rec

def read_filters(f):
    need(isinstance(f, dict), "filters is not an object")
    extra = set(f) - {"from", "to", "types", "actor", "unfamiliar", "tz"}
    need(not extra, f"filters: unknown member(s) {sorted(extra)}")
    types = f.get("types") or []
    need(isinstance(types, list) and all(t in LABELS for t in types), f"filters.types: {types!r}")
    actor, unf = f.get("actor"), f.get("unfamiliar")
    need(actor is None or (isinstance(actor, str) and actor), f"filters.actor: {actor!r}")
    need(unf is None or type(unf) is bool, f"filters.unfamiliar: {unf!r}")
    lo, hi = (None if f.get(b) is None else parse_time(f[b], f"filters.{b}") for b in ("from", "to"))
    return dict(lo=lo, hi=hi, types=set(types), actor=actor, unf=unf, zone=find_zone(f.get("tz") or "UTC"))

def matches(F, typ, ns, actor_id, unf):
    return ((F["lo"] is None or F["lo"] <= ns) and (F["hi"] is None or ns <= F["hi"])
            and (not F["types"] or typ in F["types"]) and (F["actor"] is None or actor_id == F["actor"])
            and (F["unf"] is None or unf == F["unf"]))

# ---- CSV.
def guard(cell):
    return "'" + cell if cell and (cell[0] in "=+-@" or cell[0] < " " or "\x7f" <= cell[0] <= "\x9f") else cell

def csv_bytes(cells):
    q = (lambda c: '"' + c.replace('"', '""') + '"' if any(x in c for x in ',"\r\n') else c)
    return (",".join(q(c) for c in cells) + "\r\n").encode()

def render(e, occ, rec, zone):
    a, utc = e["actor"], timezone.utc
    name, email = a.get("name"), a.get("email")
    user = (f"{name} <{email}>" if name is not None and email is not None
            else name if name is not None else email if email is not None else a["id"])
    ip = ""
    if "ip" in e:
        need("%" not in e["ip"], f"bad ip {e['ip']!r}")
        addr = ipaddress.ip_address(e["ip"])
        mapped = addr.version == 6 and addr.ipv4_mapped
        ip = f"::ffff:{mapped}" if mapped else str(addr)
    loc = e.get("location", {})
    reasons = ", ".join(REASONS[r] for r in e["unfamiliar"]["reasons"]) if "unfamiliar" in e else ""
    cells = [csv_time(occ, zone), csv_time(occ, utc), LABELS[e["type"]], user, e.get("device", ""), ip,
             ", ".join(loc[p] for p in ("city", "region", "country") if p in loc), e["summary"], e["id"],
             csv_time(rec, utc), reasons[:1].upper() + reasons[1:]]
    return [guard(c) for c in cells]

def csv_records(f):
    """Raw CSV records (bytes, terminator included); a quoted cell may span lines."""
    buf = b""
    for line in f:
        buf += line
        if buf.count(b'"') % 2 == 0:
            yield buf
            buf = b""
    if buf:
        yield buf

def compare_row(raw, want, n):
    if raw == csv_bytes(want):
        return
    try:
        got = next(csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), strict=True))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise Fail(f"CSV row {n} is not a valid CSV record")
    for col, w in enumerate(want):
        g = got[col] if col < len(got) else None
        need(g == w, f"CSV row {n}, cell {HEADER[col]!r}: {g!r}, but the signed entry renders as {w!r}")
    raise Fail(f"CSV row {n} differs from the signed entry's rendering (extra cells, quoting or line end)")

# ---- Checkpoints (C2SP signed note + tlog-checkpoint) and the tree (RFC 9162).
def key_id(name, pub):
    return hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]

def b64(text):
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode() == text else None

def valid(pub, sig, message):
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, message)
        return True
    except InvalidSignature:
        return False

def open_checkpoint(note, origin, keys):
    """-> (public key used, size, root); the note must be signed by one of keys under origin."""
    need(isinstance(note, str) and note.endswith("\n") and "\n\n" in note, "the checkpoint is not a signed note")
    cut = note.rindex("\n\n")
    text, sigs = note[:cut + 1], note[cut + 2:].split("\n")[:-1]
    need(sigs, "the checkpoint note has no signature")
    parsed = []
    for line in sigs:
        name, _, sig = line.removeprefix("\u2014 ").partition(" ")
        raw = b64(sig)
        need(line.startswith("\u2014 ") and name and raw and len(raw) > 4, f"malformed signature line {line!r}")
        parsed.append((name, raw[:4], raw[4:]))
    def verifies(pub):  # some line of this key (name and key id), and every such line verifies
        mine = [sig for name, sid, sig in parsed if name == origin and sid == key_id(origin, pub)]
        return mine and all(valid(pub, sig, text.encode()) for sig in mine)
    used = next((pub for pub in keys if verifies(pub)), None)
    need(used, f"the checkpoint note is not signed by the given key for {origin}")
    lines = text.split("\n")
    need(len(lines) == 4, "the checkpoint text is not exactly three lines")
    need(lines[0] == origin, f"the checkpoint's origin {lines[0]!r} is not {origin!r}")
    need(re.fullmatch(r"0|[1-9][0-9]*", lines[1]), f"bad checkpoint size {lines[1]!r}")
    root = b64(lines[2])
    need(root is not None and len(root) == 32, "bad checkpoint root hash")
    return used, int(lines[1]), root

def tree_root(hashes, n):
    stack = []  # (size, hash) of perfect subtrees, largest first
    for k in range(n):
        node = (1, bytes(hashes[32 * k:32 * k + 32]))
        while stack and stack[-1][0] == node[0]:
            size, left = stack.pop()
            node = (2 * size, hashlib.sha256(b"\x01" + left + node[1]).digest())
        stack.append(node)
    if not stack:
        return hashlib.sha256(b"").digest()
    root = stack.pop()[1]
    while stack:
        root = hashlib.sha256(b"\x01" + stack.pop()[1] + root).digest()
    return root

# ---- The steps of docs/design/integrity.md, "Verifying".
def evidence_lines(f):
    for no, line in enumerate(f, 1):
        need(line.endswith(b"\n"), f"evidence line {no} does not end with a newline")
        yield line[:-1].decode("utf-8")  # UnicodeDecodeError fails the evidence

def verify(csv_file, ev_file, account, keys, pinned):
    origin = f"security-logs/{account}"
    lines = evidence_lines(ev_file)
    c = Cursor(next(lines, ""), "evidence line 1")
    c.lit('{"format":'); fmt, _ = c.val()
    need(fmt == "security-logs-evidence", f"not an evidence file (format {fmt!r})")
    c.lit(',"version":'); version, _ = c.val()
    need(version != 1, "evidence format version 1 is refused: it does not bind the filters to the request")
    need(version == 2, f"unsupported evidence format version {version!r}")
    c.lit(',"checkpoint":'); note, _ = c.val()
    c.lit(',"size":'); size, _ = c.val()
    c.lit(',"export":{"index":'); i, _ = c.val()
    c.lit(',"entry":'); x, xraw = c.val()
    c.lit('},"leaves":['); c.end()
    # 1. Checkpoint.
    pub, N, root = open_checkpoint(note, origin, keys)
    need(nat(size, "size") == N, f"size {size} is not the checkpoint's size {N}")
    # 2. The request.
    need(nat(i, "export.index") < N, f"request index {i} is not below the checkpoint's size {N}: "
         "the checkpoint is older than the export")
    xhash, xocc, _ = read_entry(x, xraw, "the export's entry")
    need(x["type"] == "security_logs.exported" and x.get("producer") == "security-logs",
         "the export's entry is not a security_logs.exported entry recorded by the service")
    det = x["details"]
    need({"export_id", "filters", "retention_days"} <= set(det) and isinstance(det["export_id"], str),
         "the export's entry details lack export_id, filters or retention_days")
    F = read_filters(det["filters"])
    ret = det["retention_days"]
    need(type(ret) is int and ret >= 1, f"retention_days is not an integer from 1: {ret!r}")
    reach = xocc - (ret - 1) * 86400 * NS
    hashes = bytearray(32 * N)
    hashes[32 * i:32 * i + 32] = xhash
    # 3. Leaves.
    nulls, expired = set(), []
    for k in range(N):
        line = next(lines, None)
        need(line is not None and line != '],"rows":[', f"leaves holds {k} items, the checkpoint's size is {N}")
        c = Cursor(line, f"leaf {k}"); c.lit("," if k else ""); v, _ = c.val(); c.end()
        if v is None:
            if k != i:
                nulls.add(k)
            continue
        need(k != i, f"leaf {i} (the export's own entry) is not null")
        need(isinstance(v, str), f"leaf {k} is neither null nor a string")
        typ, ns, actor, unf = read_leaf(v, k)
        hashes[32 * k:32 * k + 32] = leaf_hash(v, f"leaf {k}")
        if k < i and matches(F, typ, ns, actor, unf):
            need(ns < reach, f"a row is missing: entry {k} ({typ} at {utc_text(ns)} by {actor}) "
                 "matches the export's filters and reach")
            expired.append(f"expired: index {k}, {typ}, {utc_text(ns)}, actor {actor}")
    need(next(lines, None) == '],"rows":[', f"leaves holds more than the checkpoint's size {N} items")
    # 4. Rows.
    records = csv_records(csv_file)
    need(next(records, None) == csv_bytes(HEADER), "the CSV's header is not the export's")
    prev, used, n = None, set(), 0
    while (line := next(lines, None)) != "]}":
        need(line is not None, "the evidence ends inside rows")
        c = Cursor(line, f"rows item {n + 1}")
        c.lit(',{"index":' if n else '{"index":'); k, _ = c.val(); c.lit(',"entry":'); e, raw = c.val(); c.lit("}"); c.end()
        n += 1
        need(nat(k, f"rows item {n} index") in nulls, f"row {n}: index {k} is not marked null in leaves")
        need(k not in used, f"row {n}: index {k} is used twice")
        used.add(k)
        h, occ, rec = read_entry(e, raw, f"row {n} (index {k})")
        hashes[32 * k:32 * k + 32] = h
        need(k < i and occ >= reach and matches(F, e["type"], occ, e["actor"]["id"], "unfamiliar" in e),
             f"row {n}: entry {k} is not one the export's filters and reach select")
        need(prev is None or (occ, e["id"]) < prev, f"row {n} (index {k}) does not sort strictly before the previous row")
        prev = (occ, e["id"])
        record = next(records, None)
        need(record is not None, f"the CSV ends before row {n}")
        compare_row(record, render(e, occ, rec, F["zone"]), n)
    need(next(lines, None) is None, "text after the evidence's last line")
    # 5. Completeness.
    left = sorted(nulls - used)
    need(not left, f"index {left[0] if left else 0} is marked null in leaves but has no row")
    need(next(records, None) is None, f"the CSV has more rows than the evidence's {n}")
    # 6. Root.
    need(tree_root(hashes, N) == root, "the leaves do not hash to the checkpoint's root")
    # 7. Pinned checkpoint.
    if pinned is not None:
        _, m, proot = open_checkpoint(pinned, origin, [pub])
        need(m <= N and tree_root(hashes, m) == proot, f"the checkpoint does not extend the pinned one (size {m})")
    a = x["actor"]
    who = a["id"] + (f" ({a['name']})" if "name" in a else "")
    return [f"OK: account {account}, key sha256 {hashlib.sha256(pub).hexdigest()}, export {det['export_id']} "
            f"requested {x['occurred_at']} by {who}, filters {json.dumps(det['filters'], sort_keys=True)}, "
            f"retention {ret} days, checkpoint size {N}, request index {i}, {n} rows, "
            f"{len(expired)} expired matching entries"] + expired

# ---- Command line.
def parse_keys(text, origin):
    keys = []
    for item in text.split():
        raw = b64(item)
        if raw is None or len(raw) != 32:  # else a C2SP verifier key: name+hex id+base64(0x01 || key)
            name, kid, rest = (item.split("+", 2) + ["", ""])[:3]
            raw = b64(rest)
            if raw is None or len(raw) != 33 or raw[0] != 1:
                raise Usage(f"not an Ed25519 public key or verifier key: {item!r}")
            raw = raw[1:]
            if name != origin or kid != key_id(name, raw).hex():
                raise Usage(f"the verifier key {item!r} is not the key of {origin}")
        try:
            Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise Usage(f"not an Ed25519 public key: {item!r}")
        keys.append(raw)
    return keys

def main(argv):
    ap = argparse.ArgumentParser(prog="seclog_verify.py", description="Verify an export against its evidence.")
    ap.add_argument("csv")
    ap.add_argument("--evidence", required=True)
    ap.add_argument("--account", required=True, help="the account being audited")
    ap.add_argument("--key", required=True, action="append", help="base64 public key, verifier key, or a file")
    ap.add_argument("--pinned", help="a checkpoint note saved earlier")
    args = ap.parse_args(argv)
    try:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", args.account):
            raise Usage(f"--account: not an account id: {args.account!r}")
        origin, keys = f"security-logs/{args.account}", []
        for k in args.key:
            try:
                keys += parse_keys(k, origin)
            except Usage:
                if not os.path.isfile(k):
                    raise
                with open(k, encoding="utf-8") as f:
                    keys += parse_keys(f.read(), origin)
        if not keys:
            raise Usage("--key: no key given")
        pinned = None
        if args.pinned:
            with open(args.pinned, encoding="utf-8") as f:
                pinned = f.read()
        cf, ef = open(args.csv, "rb"), open(args.evidence, "rb")
    except (Usage, OSError, UnicodeDecodeError) as e:
        print(f"usage error: {e}", file=sys.stderr)
        return 2
    try:
        with cf, ef:
            out = verify(cf, ef, args.account, keys, pinned)
    except (Fail, ValueError) as e:  # ValueError: malformed JSON, dates, addresses, UTF-8
        print(f"FAILED: {e}")
        return 1
    print("\n".join(out))
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
