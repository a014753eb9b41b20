"""Append throughput on the embedded DynamoDB.

1. Single-writer ChainWriter.append vs raw conditional PutItem of the same items (aim >= 0.8).
2. Batch append (100 per TransactWriteItems) vs single appends, entries per second (aim >= 10x).
"""

from __future__ import annotations

import argparse
import tempfile

from bench.common import embedded_stack, report, sale_payload


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=400)
    args = parser.parse_args(argv)
    n = args.entries

    from chalicelib.adapters.dynamodb_chain_store import DynamoDBChainStore, to_item
    from chalicelib.domain.records import GENESIS_PREV_HASH, seal
    from chalicelib.services.sealing import ChainWriter

    with tempfile.TemporaryDirectory() as tmp:
        moto, container = embedded_stack(tmp)
        try:
            client = container.dynamodb
            table = container.settings.table_name("journal")
            payloads = [sale_payload(i) for i in range(n)]
            # Baseline: the same sealed items, written by raw conditional PutItem.
            prev, items = GENESIS_PREV_HASH, []
            for i, payload in enumerate(payloads, start=1):
                record = seal("bench-raw", "prod.sales.R1", i, "sale", "2026-03-10T10:00:00.000000Z", False,
                              payload, prev)
                prev = record.hash
                items.append(to_item(record))
            import time

            writer = ChainWriter(DynamoDBChainStore(client, table))
            writer.append("bench-warm", "prod.sales.R1", "sale", payloads[0], training=False)
            writer.append_batch("bench-warm2", "prod.sales.R1", [("sale", p) for p in payloads[:100]], training=False)
            # Interleave rounds (A B C A B C ...) so machine drift hits all three alike.
            raw = single = batch = 0.0
            rounds = max(1, n // 100)
            for r in range(rounds):
                chunk = slice(r * 100, (r + 1) * 100)
                started = time.perf_counter()
                for item in items[chunk]:
                    client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
                raw += time.perf_counter() - started
                started = time.perf_counter()
                for payload in payloads[chunk]:
                    writer.append("bench-single", "prod.sales.R1", "sale", payload, training=False)
                single += time.perf_counter() - started
                started = time.perf_counter()
                writer.append_batch("bench-batch", "prod.sales.R1", [("sale", p) for p in payloads[chunk]],
                                    training=False)
                batch += time.perf_counter() - started
            n = rounds * 100
        finally:
            moto.stop()

    report("append on the embedded DynamoDB (moto server, loopback)", [
        ("entries", str(n)),
        ("raw conditional PutItem", f"{n / raw:,.0f} /s"),
        ("ChainWriter.append (seal + conditional put)", f"{n / single:,.0f} /s"),
        ("ratio append / raw PutItem (aim >= 0.8)", f"{raw / single:.2f}"),
        ("ChainWriter.append_batch, 100 per transaction", f"{n / batch:,.0f} /s"),
        ("ratio batch / single append (aim >= 10)", f"{single / batch:.1f}"),
    ])


if __name__ == "__main__":
    main()
