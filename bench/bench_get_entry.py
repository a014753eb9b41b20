"""GET entry's inclusion proof on a long chain: tiles (decision 0026) against a bare GetItem.

A chain of N sale entries (default 100,000) is written to the journal table of an in-process
DynamoDB emulator (moto's ``mock_aws``, the tables of ``chalicelib/resources.py``), signed once
by the checkpoint service with the DynamoDB tile store, then ``CheckpointService.inclusion`` (what
GET entry adds to reading the entry: the newest checkpoint and one BatchGetItem of tiles) is
timed against a bare consistent ``GetItem`` of one entry of the same table, in the same run (aim:
a small constant ratio, independent of N). For scale, one proof of the same chain without tiles
(the path of chains signed before them: every entry read) is timed once.
"""

from __future__ import annotations

import argparse
import random
import tempfile

from bench.common import report, sale_payload, timed


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args(argv)

    import boto3
    from moto import mock_aws

    from chalicelib.adapters.checkpoint_store import DynamoDBCheckpointStore
    from chalicelib.adapters.dynamodb_chain_store import DynamoDBChainStore, to_item
    from chalicelib.adapters.signing import LocalSigner
    from chalicelib.adapters.tile_store import DynamoDBTileStore
    from chalicelib.domain.records import GENESIS_PREV_HASH, chain_key, seal
    from chalicelib.local.provision import create_table
    from chalicelib.resources import RESOURCES
    from chalicelib.services.checkpoints import CheckpointService, KeyRegistry

    tenant, chain = "bench", "prod.sales.R1"
    key = chain_key(tenant, chain)
    with mock_aws(), tempfile.TemporaryDirectory() as keys_dir:
        ddb = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
        for logical in ("journal", "checkpoints", "keys", "tiles"):
            create_table(ddb, f"bench-{logical}", RESOURCES.table(logical), with_stream=False)
        journal = DynamoDBChainStore(ddb, "bench-journal")
        checkpoints = DynamoDBCheckpointStore(ddb, "bench-checkpoints", "bench-keys")
        tiles = DynamoDBTileStore(ddb, "bench-tiles")
        signer = LocalSigner(keys_dir, "signing")
        payloads = [sale_payload(i) for i in range(50)]
        prev, batch = GENESIS_PREV_HASH, []
        for seq in range(1, args.entries + 1):
            record = seal(tenant, chain, seq, "sale", "2026-03-10T10:00:00.000000Z", False, payloads[seq % 50], prev)
            prev = record.hash
            batch.append({"PutRequest": {"Item": to_item(record)}})
            if len(batch) == 25 or seq == args.entries:
                ddb.batch_write_item(RequestItems={"bench-journal": batch})
                batch = []
        registry = KeyRegistry(checkpoints, signer)
        service = CheckpointService(journal, checkpoints, signer, registry, tiles=tiles)
        untiled = CheckpointService(journal, checkpoints, signer, registry)
        sign = timed(lambda: service.checkpoint(tenant, chain), repeat=1)
        tile_items = sum(len(p["Items"]) for p in ddb.get_paginator("scan").paginate(TableName="bench-tiles"))

        rng = random.Random(1)
        seqs = [rng.randint(1, args.entries) for _ in range(args.samples)]

        def proofs():
            for seq in seqs:
                assert service.inclusion(tenant, chain, seq) is not None

        def gets():
            for seq in seqs:
                ddb.get_item(TableName="bench-journal", Key={"pk": {"S": key}, "sk": {"N": str(seq)}},
                             ConsistentRead=True)

        proof_time = timed(proofs) / len(seqs)
        get_time = timed(gets) / len(seqs)
        old_time = timed(lambda: untiled.inclusion(tenant, chain, seqs[0]), repeat=1)
    report(f"GET entry's inclusion proof, {args.entries:,} entries (in-process moto)", [
        ("sign the whole chain once (entries read, verified, tiles put)", f"{sign:.1f} s, {tile_items} tile items"),
        ("bare consistent GetItem of one entry", f"{get_time * 1000:.2f} ms"),
        ("inclusion proof from tiles (Query latest + BatchGetItem + verify)", f"{proof_time * 1000:.2f} ms"),
        ("ratio proof / GetItem", f"{proof_time / get_time:.1f}"),
        ("inclusion proof without tiles (every entry read), once", f"{old_time * 1000:.0f} ms "
                                                                   f"({old_time / get_time:.0f} x GetItem)"),
    ])


if __name__ == "__main__":
    main()
