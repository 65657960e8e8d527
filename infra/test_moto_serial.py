"""The local stack's shim (infra/moto_serial.py) against moto as it ships: the same requests sent
to both servers must get the same answers and the same errors.

The shim replaces some of moto's work with cheaper work (item backups in transactions, the item
size check, condition parsing, Query's partition reads). Each case below is where such a
replacement could answer differently: items at and over the size limit, cancelled transactions
that must leave every item as it was, one condition text met again with other values, unused
expression names, and reads (Queries over partitions, indexes and pages; GetItem, BatchGetItem)
of items with every kind of attribute. Run by `make check-stack`.
"""

import os
import socket
import subprocess
import sys
import time
import unittest

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv):
    port = free_port()
    process = subprocess.Popen(
        argv + ["-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{argv[0]} did not listen on {port}")


def client(port):
    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def outcome(call, **request):
    """What a request got, without what differs between any two runs."""
    try:
        answer = call(**request)
    except ClientError as error:
        return ("error", error.response["Error"].get("Code"), error.response["Error"].get("Message"))
    answer.pop("ResponseMetadata", None)
    return ("ok", answer)


class ShimAnswersAsMoto(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        python = sys.executable
        moto_server = os.path.join(os.path.dirname(python), "moto_server")
        cls.servers = [
            start([python, os.path.join(HERE, "moto_serial.py")]),
            start([moto_server]),
        ]
        cls.clients = [client(port) for _, port in cls.servers]
        cls.tables = 0

    @classmethod
    def tearDownClass(cls):
        for process, _ in cls.servers:
            process.kill()
            process.wait()

    def both(self, operation, **request):
        """Sends the request to the shim and to moto; asserts they answered alike."""
        shim, moto = (outcome(getattr(c, operation), **request) for c in self.clients)
        self.assertEqual(shim, moto, f"{operation} {request}")
        return shim

    def query_pages(self, **request):
        """Pages through a Query on both servers, comparing each page; how many pages it took."""
        pages, start = 0, None
        while True:
            page = dict(request, ExclusiveStartKey=start) if start else request
            answer = self.both("query", **page)
            self.assertEqual(answer[0], "ok", f"query {page}")
            pages += 1
            start = answer[1].get("LastEvaluatedKey")
            if not start:
                return pages

    def table(self):
        type(self).tables += 1
        name = f"t{self.tables}"
        for c in self.clients:  # its answer holds its creation time: not compared
            c.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "n", "AttributeType": "N"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_n",
                    "KeySchema": [
                        {"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "n", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
            )
        return name

    def item(self, table, sk):
        return self.both(
            "get_item", TableName=table, Key={"pk": {"S": "a"}, "sk": {"S": sk}}, ConsistentRead=True
        )

    def test_items_at_and_over_the_size_limit(self):
        table = self.table()
        for attributes, length in [(40, 10_000), (41, 10_000), (400, 1_000), (500, 1_000)]:
            item = {"pk": {"S": "a"}, "sk": {"S": f"{attributes}x{length}"}}
            item.update({f"a{i:03}": {"S": "x" * length} for i in range(attributes)})
            answer = self.both("put_item", TableName=table, Item=item)
            if attributes * length > 405_000:
                self.assertEqual(answer[0], "error", "an item over the limit must be refused")
            else:
                self.assertEqual(answer[0], "ok")
        refused = self.item(table, "41x10000")
        self.assertNotIn("Item", refused[1], "a refused item must not be stored")

    def test_a_query_pages_at_one_megabyte(self):
        table = self.table()
        for i in range(15):
            item = {"pk": {"S": "big"}, "sk": {"S": f"{i:02}"}, "blob": {"S": "x" * 100_000}}
            self.both("put_item", TableName=table, Item=item)
        pages = self.query_pages(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "big"}},
        )
        self.assertEqual(pages, 2, "15 items of 100 KB are two pages of at most 1 MB")

    def test_a_cancelled_transaction_leaves_every_item_as_it_was(self):
        table = self.table()
        for sk, n in [("put", 1), ("update", 2), ("delete", 3), ("check", 4)]:
            self.both(
                "put_item",
                TableName=table,
                Item={"pk": {"S": "a"}, "sk": {"S": sk}, "n": {"N": str(n)}, "m": {"M": {"k": {"L": [{"S": "v"}]}}}},
            )
        key = lambda sk: {"pk": {"S": "a"}, "sk": {"S": sk}}  # noqa: E731
        answer = self.both(
            "transact_write_items",
            TransactItems=[
                {"Put": {"TableName": table, "Item": {**key("put"), "n": {"N": "10"}}}},
                {"Put": {"TableName": table, "Item": {**key("new"), "n": {"N": "11"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": key("update"),
                        "UpdateExpression": "SET n = n + :one, m.k[0] = :x",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":x": {"S": "changed"}},
                    }
                },
                {"Delete": {"TableName": table, "Key": key("delete")}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key("check"),
                        "ConditionExpression": "n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "999"}},
                    }
                },
            ],
        )
        self.assertEqual(answer[0], "error")
        for sk in ["put", "update", "delete", "check", "new"]:
            self.item(table, sk)
        self.assertEqual(self.item(table, "update")[1]["Item"]["n"], {"N": "2"})
        self.assertNotIn("Item", self.item(table, "new")[1])

    def test_one_condition_text_with_other_values(self):
        table = self.table()
        key = {"pk": {"S": "a"}, "sk": {"S": "counter"}}
        self.both("put_item", TableName=table, Item={**key, "n": {"N": "1"}})
        for expected, value in [(1, "1"), (2, "1"), (2, "2"), (3, "2"), (3, "3")]:
            answer = self.both(
                "update_item",
                TableName=table,
                Key=key,
                UpdateExpression="SET n = n + :one",
                ConditionExpression="n = :n",
                ExpressionAttributeValues={":one": {"N": "1"}, ":n": {"N": value}},
                ReturnValues="ALL_NEW",
            )
            self.assertEqual(answer[0], "ok" if str(expected) == value else "error")
        for _ in range(2):
            answer = self.both(
                "put_item",
                TableName=table,
                Item={**key, "n": {"N": "0"}},
                ConditionExpression="attribute_not_exists(#p)",
                ExpressionAttributeNames={"#p": "pk"},
            )
            self.assertEqual(answer[0], "error")

    def test_unused_names_and_values_are_refused_every_time(self):
        table = self.table()
        for _ in range(2):
            answer = self.both(
                "put_item",
                TableName=table,
                Item={"pk": {"S": "a"}, "sk": {"S": "x"}},
                ConditionExpression="attribute_not_exists(pk)",
                ExpressionAttributeNames={"#unused": "n"},
            )
            self.assertEqual(answer[0], "error")
            answer = self.both(
                "update_item",
                TableName=table,
                Key={"pk": {"S": "a"}, "sk": {"S": "y"}},
                UpdateExpression="SET n = :n",
                ConditionExpression="attribute_not_exists(pk)",
                ExpressionAttributeValues={":n": {"N": "1"}, ":unused": {"N": "1"}},
            )
            self.assertEqual(answer[0], "error")

    def test_queries_over_partitions_indexes_and_pages(self):
        table = self.table()
        for pk in ["a", "b"]:
            for i in range(30):
                self.both(
                    "put_item",
                    TableName=table,
                    Item={
                        "pk": {"S": pk},
                        "sk": {"S": f"e{(i * 7) % 30:02}"},
                        "n": {"N": str((i * 11) % 30)},
                        "hash": {"B": bytes([i, 255 - i, 0])},
                        "nested": {"M": {"list": {"L": [{"N": "1.50"}, {"BOOL": True}, {"NULL": True}]}}},
                        "tags": {"SS": ["x", f"t{i}"]},
                    },
                )
        keys = [{"pk": {"S": pk}, "sk": {"S": f"e{i:02}"}} for pk in ["a", "b"] for i in range(0, 30, 7)]
        self.assertEqual(self.both("batch_get_item", RequestItems={table: {"Keys": keys}})[0], "ok")
        self.assertIn("Item", self.both("get_item", TableName=table, Key=keys[0])[1])
        for request in [
            {"KeyConditionExpression": "pk = :a"},
            {"KeyConditionExpression": "pk = :a AND sk > :s", "Limit": 7},
            {"KeyConditionExpression": "pk = :a AND sk BETWEEN :s AND :t", "ScanIndexForward": False},
            {"KeyConditionExpression": "pk = :a", "IndexName": "by_n", "Limit": 9},
            {"KeyConditionExpression": "pk = :a AND n >= :n", "IndexName": "by_n", "ScanIndexForward": False},
        ]:
            names = request["KeyConditionExpression"]
            values = {":a": {"S": "a"}}
            if ":s" in names:
                values[":s"] = {"S": "e05"}
            if ":t" in names:
                values[":t"] = {"S": "e20"}
            if ":n" in names:
                values[":n"] = {"N": "12"}
            pages = self.query_pages(**request, TableName=table, ExpressionAttributeValues=values)
            if "Limit" in request:
                self.assertGreater(pages, 1, "a limited Query must page")


if __name__ == "__main__":
    unittest.main()
