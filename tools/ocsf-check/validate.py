#!/usr/bin/env python3
"""Validate OCSF events, one JSON object per line (files, or stdin), against the OCSF class
models of the version each event names in `metadata.version`, from the maintained pydantic-ocsf
package (infra/requirements-ocsf.txt). Prints one line per event; exits 1 at the first event
refused, with the reason, so `make check-ocsf` fails.

Stricter than the models alone:
- JSON is validated in pydantic's strict mode (no "1" read as 1);
- no unknown member anywhere (the models keep unknown members as extras; they are refused here),
  except inside `unmapped`, the place OCSF gives to whatever has no member;
- pydantic-ocsf 3.0.0 leaves out the attributes every class takes from OCSF's `$include` files
  (classification and occurrence: `time`, `class_uid`, `category_uid`, `type_uid` and their
  names): they are checked here, required ones present, all of the right type, the names equal
  to the schema's captions, and `activity_id` (optional in the models) required.

Usage: validate.py [FILE...]   (`-` or nothing: stdin)
"""

import importlib
import json
import os
import sys

import ocsf
from pydantic import BaseModel, ValidationError

# The included attributes the models lack: name -> (type, required).
INCLUDED = {
    "time": (int, True),
    "category_uid": (int, True),
    "class_uid": (int, True),
    "type_uid": (int, True),
    "category_name": (str, False),
    "class_name": (str, False),
    "type_name": (str, False),
    "count": (int, False),
    "duration": (int, False),
    "start_time": (int, False),
    "end_time": (int, False),
    "timezone_offset": (int, False),
}


class Refused(Exception):
    pass


def schema_classes(version):
    """class_uid -> (model name, class caption, category uid, category caption), from the schema
    file the package ships for `version`, with the package's own rule (class_uid = category uid *
    1000 + the class's uid, the category found along `extends`)."""
    module = "v" + version.replace(".", "_")
    path = os.path.join(os.path.dirname(ocsf.__file__), "schemas", module + ".json")
    if not os.path.exists(path):
        raise Refused(f"OCSF version {version!r} is not one pydantic-ocsf ships")
    with open(path) as f:
        schema = json.load(f)
    categories = schema["categories_meta"]["attributes"]
    events = schema["events"]

    def category_of(spec):
        while spec:
            if spec.get("category") in categories:
                return spec["category"]
            spec = events.get(spec.get("extends"))
        return None

    classes = {}
    for name, spec in events.items():
        category = category_of(spec)
        if category is None or "uid" not in spec:
            continue
        cat = categories[category]
        model = "".join(part.capitalize() for part in name.split("_"))
        classes[cat["uid"] * 1000 + spec["uid"]] = (model, spec["caption"], cat["uid"], cat["caption"])
    return module, classes


def unknown_members(node, path):
    """Paths of members the models did not recognise, below `path` (`unmapped` excepted)."""
    found = []
    if isinstance(node, BaseModel):
        for name in (node.model_extra or {}):
            found.append(f"{path}.{name}")
        for name in type(node).model_fields:
            if path == "" and name == "unmapped":
                continue
            found += unknown_members(getattr(node, name), f"{path}.{name}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += unknown_members(item, f"{path}[{i}]")
    return found


def validate(line):
    try:
        event = json.loads(line)
    except json.JSONDecodeError as e:
        raise Refused(f"not JSON: {e}")
    if not isinstance(event, dict):
        raise Refused("not a JSON object")
    version = (event.get("metadata") or {}).get("version")
    if not isinstance(version, str):
        raise Refused("metadata.version is missing")
    module, classes = schema_classes(version)
    class_uid = event.get("class_uid")
    if class_uid not in classes:
        raise Refused(f"class_uid {class_uid!r} is no class of OCSF {version}")
    model_name, class_caption, category_uid, category_caption = classes[class_uid]
    model = getattr(importlib.import_module(f"ocsf.{module}.events"), model_name)

    for name, (kind, required) in INCLUDED.items():
        if name not in event:
            if required:
                raise Refused(f"{name} is required")
            continue
        value = event[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise Refused(f"{name} must be {kind.__name__}, not {value!r}")
    if "activity_id" not in event:
        raise Refused("activity_id is required")
    if event["category_uid"] != category_uid:
        raise Refused(f"category_uid must be {category_uid} for class {class_uid}")
    try:
        parsed = model.model_validate_json(line, strict=True)
    except ValidationError as e:
        raise Refused(f"{model_name} ({class_uid}) of OCSF {version}: {e}")
    extra = [p for p in unknown_members(parsed, "") if p.lstrip(".") not in INCLUDED]
    if extra:
        raise Refused(f"unknown members: {', '.join(p.lstrip('.') for p in extra)}")
    activity_name = parsed.activity_name
    expected = {
        "class_name": class_caption,
        "category_name": category_caption,
        "type_name": f"{class_caption}: {activity_name}",
    }
    for name, want in expected.items():
        if name in event and event[name] != want:
            raise Refused(f"{name} must be {want!r}, not {event[name]!r}")
    return f"{model_name} ({event['type_uid']}) {event.get('metadata', {}).get('event_code', '')}"


def read_lines(path):
    with open(path) as f:
        return f.readlines()


def main(args):
    paths = args or ["-"]
    count = 0
    for path in paths:
        lines = sys.stdin.readlines() if path == "-" else read_lines(path)
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                what = validate(line)
            except Refused as e:
                print(f"ocsf-check: {path}:{number}: REFUSED: {e}", file=sys.stderr)
                return 1
            count += 1
            print(f"ok {what}")
    if count == 0:
        print("ocsf-check: no events to validate", file=sys.stderr)
        return 1
    print(f"ocsf-check: {count} events valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
