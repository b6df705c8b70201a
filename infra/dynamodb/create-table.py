#!/usr/bin/env python3
"""Creates the apprtc-lambda room table (on-demand, TTL on `ttl`, the sparse index `registered` of
open relay connections) if it does not exist. The same table as template.yaml's RoomTable.

Usage: create-table.py [TABLE_NAME]   (default: $TABLE_NAME or "apprtc-rooms")
The endpoint comes from AWS_ENDPOINT_URL_DYNAMODB (e.g. http://127.0.0.1:8000 for DynamoDB Local);
credentials and region from the usual AWS variables.
"""
import os
import sys
import time

import boto3
from botocore.exceptions import ClientError


def main() -> int:
    table = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TABLE_NAME", "apprtc-rooms")
    ddb = boto3.client("dynamodb", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    try:
        ddb.create_table(
            TableName=table,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "live", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "registered",
                    "KeySchema": [{"AttributeName": "live", "KeyType": "HASH"}],
                    "Projection": {
                        "ProjectionType": "INCLUDE",
                        "NonKeyAttributes": ["room", "client"],
                    },
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceInUseException":
            raise
        print(f"table {table} exists")
    deadline = time.time() + 30
    while ddb.describe_table(TableName=table)["Table"]["TableStatus"] != "ACTIVE":
        if time.time() > deadline:
            print(f"table {table} did not become ACTIVE", file=sys.stderr)
            return 1
        time.sleep(0.2)
    ddb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    )
    print(f"table {table} ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
