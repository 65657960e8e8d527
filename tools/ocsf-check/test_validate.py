#!/usr/bin/env python3
"""The validator refuses what it must: each test breaks one thing in a valid event (a stream's
record of a sign-in, as `ocsf-samples` prints it) and expects the refusal to name it."""

import copy
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import validate  # noqa: E402

VALID = {
    "metadata": {"version": "1.3.0", "product": {"name": "Security Logs", "vendor_name": "Security Logs"},
                 "uid": "01HW3Z9V7Q4M8K2N5P6R7E0001", "sequence": 0, "event_code": "login",
                 "logged_time": 1713767536000},
    "time": 1713767535000, "category_uid": 3, "category_name": "Identity & Access Management",
    "class_uid": 3002, "class_name": "Authentication", "activity_id": 1, "activity_name": "Logon",
    "type_uid": 300201, "type_name": "Authentication: Logon", "severity_id": 1, "severity": "Informational",
    "status_id": 1, "status": "Success", "message": "Login from Safari on macOS",
    "actor": {"user": {"uid": "u_1", "name": "Alice Merchant"}}, "user": {"uid": "u_1", "name": "Alice Merchant"},
    "is_new_logon": False, "src_endpoint": {"ip": "203.0.113.45", "location": {"country": "PH"}},
    "http_request": {"user_agent": "Mozilla/5.0"},
    "unmapped": {"type_label": "Login", "details": {"method": "password", "anything": {"goes": [1]}}},
}


def check(event):
    return validate.validate(json.dumps(event))


def broken(change):
    event = copy.deepcopy(VALID)
    change(event)
    return event


class Validator(unittest.TestCase):
    def refused(self, event, reason):
        with self.assertRaises(validate.Refused) as caught:
            check(event)
        self.assertIn(reason, str(caught.exception))

    def test_the_valid_event_passes(self):
        self.assertIn("Authentication (300201)", check(VALID))

    def test_a_wrong_type_uid(self):
        self.refused(broken(lambda e: e.update(type_uid=300202)), "type_uid must be 300201")

    def test_a_missing_required_field(self):
        self.refused(broken(lambda e: e.pop("user")), "user")
        self.refused(broken(lambda e: e.pop("time")), "time is required")
        self.refused(broken(lambda e: e.pop("activity_id")), "activity_id is required")
        self.refused(broken(lambda e: e["metadata"]["product"].pop("vendor_name")), "vendor_name")

    def test_an_unknown_member(self):
        self.refused(broken(lambda e: e.update(account="acct_demo")), "unknown members: account")
        self.refused(broken(lambda e: e["actor"]["user"].update(role="admin")), "actor.user.role")

    def test_a_wrong_type(self):
        self.refused(broken(lambda e: e.update(time="1713767535000")), "time must be int")
        self.refused(broken(lambda e: e.update(is_new_logon="false")), "is_new_logon")
        self.refused(broken(lambda e: e["metadata"].update(sequence="0")), "sequence")

    def test_another_class_s_members_or_names(self):
        self.refused(broken(lambda e: e.update(class_uid=3001)), "Inconsistent activity_id=1")
        self.refused(broken(lambda e: e.update(class_name="Account Change")), "class_name must be")
        self.refused(broken(lambda e: e.update(category_uid=6)), "category_uid must be 3")
        self.refused(broken(lambda e: e.update(class_uid=9999)), "no class of OCSF 1.3.0")

    def test_an_unknown_version(self):
        self.refused(broken(lambda e: e["metadata"].update(version="9.9.9")), "not one pydantic-ocsf ships")

    def test_main_fails_on_the_first_refused_line(self):
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ocsf-check-{os.getpid()}.ndjson")
        with open(path, "w") as f:
            f.write(json.dumps(VALID) + "\n" + json.dumps(broken(lambda e: e.pop("user"))) + "\n")
        try:
            self.assertEqual(validate.main([path]), 1)
        finally:
            os.remove(path)


if __name__ == "__main__":
    unittest.main()
