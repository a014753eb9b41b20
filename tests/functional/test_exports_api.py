"""Export jobs through HTTP on the embedded stack: 202 and a job, a background build into the
exports bucket, a pre-signed URL for exactly that archive (which downloads and verifies offline),
every request and URL journaled; roles, other tenants, bad input and training data refused with
nothing written."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.request
import uuid
import zipfile
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest

from chalicelib.domain.records import chain_key
from tests.support.bodies import business_today
from tests.support.users import count_all, member, signed_up_account

pytestmark = pytest.mark.functional
TODAY = business_today()


def sale_body(total="5.00"):
    return {
        "client_receipt_id": f"r-{uuid.uuid4().hex[:10]}",
        "register_id": "R1",
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lines": [{"description": "Espresso", "quantity": "2", "unit_price": "2.50", "vat_rate": "21"}],
        "payments": [{"method": "card", "amount": total}],
    }


def wait_done(client, tenant_id, job_id, timeout=30.0, **query):
    deadline = time.monotonic() + timeout
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    while True:
        reply = client.get(f"/v1/tenants/{tenant_id}/exports/{job_id}{suffix}")
        assert reply.status == 200, reply
        if reply.json["status"] in ("done", "failed") or time.monotonic() > deadline:
            return reply
        time.sleep(0.2)


def events_of(container, tenant_id, kind):
    records = container.events_store.scan(chain_key(tenant_id, "events"))
    return [r for r in records if r.data.get("kind") == kind]


@pytest.fixture(scope="module")
def production(stack):
    """A production tenant (gone live) with three sales, and one finished export job: shared by the
    tests of this module (each test makes its own tenants when it needs a clean one)."""
    from app import app
    from chalicelib import bootstrap
    from tests.support.client import ApiClient

    bootstrap.configure(stack.settings)
    api = ApiClient(app)
    account = signed_up_account(api, stack)
    admin = api.with_token(account.token)
    assert admin.post(f"/v1/tenants/{account.tenant_id}/go-live", {"confirm": True}).status == 200
    for _ in range(3):
        assert admin.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).status == 201
    job = admin.post(f"/v1/tenants/{account.tenant_id}/exports", {"format": "fiscal", "from": TODAY, "to": TODAY})
    assert job.status == 202, job
    assert wait_done(admin, account.tenant_id, job.json["job_id"]).json["status"] == "done"
    return account, job.json["job_id"]


@pytest.fixture
def live(production, api):
    account, _ = production
    return account, api.with_token(account.token)


def test_an_export_is_a_202_job_built_in_the_background_with_a_url_for_exactly_that_archive(live, container, tmp_path):
    account, admin = live
    tenant = account.tenant_id
    reply = admin.post(f"/v1/tenants/{tenant}/exports", {"format": "fiscal", "from": TODAY, "to": TODAY})
    assert reply.status == 202, reply
    job = reply.json
    assert job["status"] in ("queued", "running", "done") and job["fiscal"] is True
    assert job["chains"] == ["prod.sales.R1"]
    assert reply.headers["location"] == f"/v1/tenants/{tenant}/exports/{job['job_id']}"

    done = wait_done(admin, tenant, job["job_id"]).json
    assert done["status"] == "done", done
    download = done["download"]
    assert done["progress"]["percent"] == 100 and download["expires_in"] == 900
    url = urlparse(download["url"])
    bucket = container.settings.bucket_name("exports")
    assert url.path == f"/{bucket}/exports/{tenant}/{job['job_id']}/{download['file_name']}"
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == ["900"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-SignedHeaders"] == ["host"]

    with urllib.request.urlopen(download["url"], timeout=10) as resp:
        data = resp.read()
    import hashlib

    assert len(data) == download["bytes"] and hashlib.sha256(data).hexdigest() == download["sha256"]
    path = tmp_path / download["file_name"]
    path.write_bytes(data)
    from chalicelib.verify_export import verify_archive

    report = verify_archive(path)
    assert report.ok and report.status == "unanchored", report.text()
    # the trust anchor, out of band: the service's published keys (GET /v1/keys, public)
    from chalicelib.verify_export.verifier import load_trusted_keys

    published = tmp_path / "keys.json"
    published.write_text(json.dumps(admin.get("/v1/keys").json))
    anchored = verify_archive(path, trusted_keys=load_trusted_keys([published]))
    assert anchored.status == "verified" and anchored.exit_code == 0, anchored.text()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert {e["chain"]: e["status"] for e in manifest["directory"]["chains"]} == {
        "prod.sales.R1": "included", "events": "included"}
    assert manifest["export"]["job_id"] == job["job_id"] and manifest["tenant"]["tenant_id"] == tenant
    assert hashlib.sha256(zf_bytes(data, "manifest.json")).hexdigest() == download["manifest_sha256"]

    requested = [e for e in events_of(container, tenant, "export_requested")
                 if e.data["details"]["job_id"] == job["job_id"]]
    issued = [e for e in events_of(container, tenant, "export_url_issued")
              if e.data["details"]["job_id"] == job["job_id"]]
    assert len(requested) == 1
    assert requested[0].data["actor"] == account.user_id and requested[0].data["details"]["format"] == "fiscal"
    assert len(issued) == 1 and issued[0].data["details"]["sha256"] == download["sha256"]
    assert issued[0].data["details"]["expires_in"] == 900


def zf_bytes(data, name):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(name)


def test_the_archive_carries_the_witness_cosignatures_and_its_key(production, api, container, tmp_path):
    """Decision 0024: the export has the checkpoint it signs co-signed by the witness; the archive
    carries the cosignatures and the witness's key, and the witness key alone anchors it."""
    account, job_id = production
    admin = api.with_token(account.token)
    download = admin.get(f"/v1/tenants/{account.tenant_id}/exports/{job_id}").json["download"]
    with urllib.request.urlopen(download["url"], timeout=10) as resp:
        data = resp.read()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        rows = zf.read("cosignatures.csv").decode("utf-8-sig").splitlines()
        keys = json.loads(zf.read("keys/keys.json"))["keys"]
    witness = container.witness_client
    assert rows[0] == "chaine;taille;racine;cle_temoin;horodatage_utc;signature"
    newest = {row.split(";")[0]: int(row.split(";")[1]) for row in rows[1:]}
    assert newest == {c["chain"]: c["last_seq"] for c in manifest["chains"]}  # every chain, up to its end
    assert {(k["key_id"], k["role"]) for k in keys if k["role"] == "witness"} == {(witness.key_id, "witness")}
    assert manifest["witness_keys"] == [witness.key_id]
    path = tmp_path / download["file_name"]
    path.write_bytes(data)
    pem = tmp_path / "witness.pem"
    pem.write_text(witness.public_key_pem())
    from chalicelib.verify_export import verify_archive
    from chalicelib.verify_export.verifier import load_trusted_keys

    report = verify_archive(path, witness_keys=load_trusted_keys([pem]))
    assert report.status == "verified" and report.exit_code == 0, report.text()
    assert all(c["witness"]["anchored"] for c in report.chains)


def test_the_url_lifetime_is_configurable_up_to_an_hour_and_each_url_is_journaled(live, container):
    account, admin = live
    tenant = account.tenant_id
    job = admin.post(f"/v1/tenants/{tenant}/exports", {"format": "fiscal", "from": TODAY, "to": TODAY}).json
    wait_done(admin, tenant, job["job_id"])
    issued = len(events_of(container, tenant, "export_url_issued"))
    longest = admin.get(f"/v1/tenants/{tenant}/exports/{job['job_id']}?expires_in=3600").json["download"]
    assert parse_qs(urlparse(longest["url"]).query)["X-Amz-Expires"] == ["3600"]
    before = count_all(container_stack(container))
    too_long = admin.get(f"/v1/tenants/{tenant}/exports/{job['job_id']}?expires_in=3601")
    assert too_long.status == 422 and too_long.json["field"] == "expires_in"
    assert count_all(container_stack(container)) == before
    assert len(events_of(container, tenant, "export_url_issued")) == issued + 1


def container_stack(container):
    class _Stack:
        settings = container.settings

    return _Stack()


def test_another_tenants_job_is_a_404_and_so_is_an_unknown_job(production, api, stack):
    account, job_id = production
    job = {"job_id": job_id}
    other = signed_up_account(api, stack)
    outsider = api.with_token(other.token)
    mine = outsider.get(f"/v1/tenants/{other.tenant_id}/exports/{job['job_id']}")
    assert mine.status == 404 and mine.json["field"] == "job_id"
    theirs = outsider.get(f"/v1/tenants/{account.tenant_id}/exports/{job['job_id']}")
    assert theirs.status == 404 and theirs.json["detail"] == "tenant not found"
    before = count_all(stack)
    refused = outsider.post(f"/v1/tenants/{account.tenant_id}/exports", {"format": "fiscal", "from": TODAY,
                                                                          "to": TODAY})
    assert refused.status == 404 and count_all(stack) == before


@pytest.mark.parametrize("role", ["seller", "manager"])
def test_a_too_weak_role_gets_403_and_nothing_is_written(production, api, stack, role):
    account, job_id = production
    job = {"job_id": job_id}
    weak = api.with_token(member(api, stack, account.tenant_id, account.token, role).token)
    before = count_all(stack)
    posted = weak.post(f"/v1/tenants/{account.tenant_id}/exports", {"format": "fiscal", "from": TODAY, "to": TODAY})
    got = weak.get(f"/v1/tenants/{account.tenant_id}/exports/{job['job_id']}")
    for reply in (posted, got):
        assert reply.status == 403 and reply.json["permission"] == "export.create", reply
    assert count_all(stack) == before


@pytest.mark.parametrize("role", ["accountant", "auditor"])
def test_accountants_and_auditors_export_a_production_tenant(live, api, stack, role):
    account, _ = live
    client = api.with_token(member(api, stack, account.tenant_id, account.token, role).token)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/exports", {"format": "fiscal", "from": TODAY, "to": TODAY})
    assert reply.status == 202, reply
    assert wait_done(client, account.tenant_id, reply.json["job_id"]).json["status"] == "done"


BAD = [
    ("no format", {"from": TODAY, "to": TODAY}, "format"),
    ("unknown format", {"format": "xml", "from": TODAY, "to": TODAY}, "format"),
    ("bad date", {"format": "fiscal", "from": "2026-02-30", "to": TODAY}, "from"),
    ("end before start", {"format": "fiscal", "from": TODAY, "to": "2001-01-01"}, "to"),
    ("too long", {"format": "fiscal", "from": "2001-01-01", "to": TODAY}, "to"),
    ("unknown chain", {"format": "fiscal", "from": TODAY, "to": TODAY, "chains": ["prod.sales.R9"]}, "chains.0"),
    ("training chain", {"format": "fiscal", "from": TODAY, "to": TODAY, "chains": ["test.sales.R1"]}, "chains.0"),
    ("event journal", {"format": "fiscal", "from": TODAY, "to": TODAY, "chains": ["events"]}, "chains.0"),
    ("malformed chain", {"format": "fiscal", "from": TODAY, "to": TODAY, "chains": ["R1"]}, "chains.0"),
    ("unknown field", {"format": "fiscal", "from": TODAY, "to": TODAY, "zip": True}, "zip"),
    ("FEC of a Belgian tenant", {"format": "fec", "from": TODAY, "to": TODAY}, "format"),
]


@pytest.mark.parametrize("why, body, field", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_4xx_problem_naming_the_field_and_writes_nothing(live, stack, why, body, field):
    account, admin = live
    before = count_all(stack)
    reply = admin.post(f"/v1/tenants/{account.tenant_id}/exports", body)
    assert 400 <= reply.status < 500 and reply.json["field"] == field, reply
    assert count_all(stack) == before


def test_a_test_mode_tenant_exports_training_data_marked_not_fiscal_and_auditors_cannot(api, stack, tmp_path):
    account = signed_up_account(api, stack)
    admin = api.with_token(account.token)
    assert admin.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).status == 201
    auditor = api.with_token(member(api, stack, account.tenant_id, account.token, "auditor").token)
    before = count_all(stack)
    refused = auditor.post(f"/v1/tenants/{account.tenant_id}/exports", {"format": "fiscal", "from": TODAY,
                                                                         "to": TODAY})
    assert refused.status == 403 and refused.json["field"] == "tenant_id" and "training" in refused.json["detail"]
    assert count_all(stack) == before
    job = admin.post(f"/v1/tenants/{account.tenant_id}/exports", {"format": "fiscal", "from": TODAY,
                                                                   "to": TODAY}).json
    assert job["fiscal"] is False and job["chains"] == ["test.sales.R1"]
    done = wait_done(admin, account.tenant_id, job["job_id"]).json
    assert done["download"]["file_name"].startswith("NON-FISCAL-")
    with urllib.request.urlopen(done["download"]["url"], timeout=10) as resp:
        data = resp.read()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert "NON-FISCAL.txt" in zf.namelist()
        assert json.loads(zf.read("manifest.json"))["export"]["fiscal"] is False
    path = tmp_path / "training.zip"
    path.write_bytes(data)
    from chalicelib.verify_export import verify_archive

    report = verify_archive(path)
    assert report.ok and "NOT FISCAL" in report.text()
    assert auditor.get(f"/v1/tenants/{account.tenant_id}/exports/{job['job_id']}").status == 403


def test_a_french_tenant_gets_a_fec_that_verifies(api, stack, tmp_path):
    account = signed_up_account(api, stack, country="FR")
    admin = api.with_token(account.token)
    assert admin.post(f"/v1/tenants/{account.tenant_id}/go-live", {"confirm": True}).status == 200
    body = sale_body()
    body["lines"][0]["vat_rate"] = "20"
    assert admin.post(f"/v1/tenants/{account.tenant_id}/sales", body).status == 201
    job = admin.post(f"/v1/tenants/{account.tenant_id}/exports", {"format": "fec", "from": TODAY, "to": TODAY}).json
    done = wait_done(admin, account.tenant_id, job["job_id"]).json
    assert done["status"] == "done", done
    with urllib.request.urlopen(done["download"]["url"], timeout=10) as resp:
        data = resp.read()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = [n for n in zf.namelist() if "FEC" in n]
        assert len(names) == 1 and names[0].endswith(f"FEC{TODAY.replace('-', '')}.txt")
        lines = zf.read(names[0]).decode("iso-8859-15").split("\r\n")
    assert lines[0].split("\t")[0] == "JournalCode" and len(lines[1].split("\t")) == 18
    path = tmp_path / "fec.zip"
    path.write_bytes(data)
    from chalicelib.verify_export import verify_archive

    assert verify_archive(path).ok


def test_the_local_s3_refuses_a_pre_signed_url_once_expired_as_s3_does(container):
    """moto serves a pre-signed GET forever; the embedded stack refuses it after X-Amz-Expires
    (403 AccessDenied "Request has expired") and refuses more than 7 days (400), as S3 does."""
    import time
    import urllib.error

    from chalicelib.adapters.exports import presign_client

    bucket = container.settings.bucket_name("exports")
    container.s3.put_object(Bucket=bucket, Key="expiry-test/object.txt", Body=b"hello")
    signer = presign_client(container.settings)  # SigV4 query signing, as the product's download links

    def get(expires_in: int):
        url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket,
                                                                        "Key": "expiry-test/object.txt"},
                                                  ExpiresIn=expires_in)
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    assert get(900) == (200, b"hello")
    short = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "expiry-test/object.txt"},
                                          ExpiresIn=1)
    time.sleep(2.1)
    try:
        urllib.request.urlopen(short, timeout=10)
        raise AssertionError("an expired pre-signed URL was served")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403 and b"Request has expired" in exc.read()
    status, body = get(604_801)
    assert status == 400 and b"AuthorizationQueryParametersError" in body


# ---- GET /v1/tenants/{tenant_id}/exports: the company's jobs -------------------------------------
def list_all(client, tenant_id, limit):
    """Every page of the list, in order; and how many pages it took."""
    jobs, cursor, pages = [], None, 0
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        reply = client.get(f"/v1/tenants/{tenant_id}/exports?limit={limit}{suffix}")
        assert reply.status == 200, reply
        pages += 1
        jobs += reply.json["jobs"]
        cursor = reply.json["next_cursor"]
        if cursor is None:
            return jobs, pages


def test_the_company_s_jobs_are_listed_newest_first_page_by_page_each_once_without_urls(api, stack, container):
    account = signed_up_account(api, stack)
    admin = api.with_token(account.token)
    tenant = account.tenant_id
    assert admin.get(f"/v1/tenants/{tenant}/exports").json == {"jobs": [], "next_cursor": None}
    accountant = api.with_token(member(api, stack, tenant, account.token, "accountant").token)
    requested = []
    for i in range(5):  # by two people: the list is the company's, not the requester's
        client = admin if i % 2 == 0 else accountant
        reply = client.post(f"/v1/tenants/{tenant}/exports", {"format": "fiscal", "from": TODAY, "to": TODAY})
        assert reply.status == 202, reply
        requested.append(reply.json["job_id"])
    for job_id in requested:  # built at once, in their threads
        assert wait_done(admin, tenant, job_id).json["status"] == "done"
    # an export another test left building in its thread would add its items while this counts
    for thread in threading.enumerate():
        if thread.name.startswith("export-"):
            thread.join(60)
    issued = len(events_of(container, tenant, "export_url_issued"))
    before = count_all(stack)

    jobs, pages = list_all(admin, tenant, limit=2)
    assert [j["job_id"] for j in jobs] == requested[::-1] and pages == 3
    assert all(j["download"] is None and j["status"] == "done" and j["progress"]["percent"] == 100 for j in jobs)
    assert [j["requested_at"] for j in jobs] == sorted((j["requested_at"] for j in jobs), reverse=True)
    assert {j["requested_by"] for j in jobs} == {account.user_id, accountant_id(accountant)}
    # and whose name: a colleague's job said "requested by 444b7abc-…" (the user id) in the console
    names = {j["requested_by"]: j["requested_by_name"] for j in jobs}
    members = {m["user_id"]: m["display_name"] for m in admin.get(f"/v1/tenants/{tenant}/members").json["members"]}
    assert names == {user: members[user] for user in names} and all(names.values()), (names, members)
    assert list_all(accountant, tenant, limit=100) == (jobs, 1)
    # listing issues no URL and journals nothing
    assert len(events_of(container, tenant, "export_url_issued")) == issued and count_all(stack) == before
    # a job listed is the one GET answers, with a fresh URL
    one = admin.get(f"/v1/tenants/{tenant}/exports/{jobs[0]['job_id']}").json
    assert one["download"]["url"] and {k: v for k, v in one.items() if k != "download"} == {
        k: v for k, v in jobs[0].items() if k != "download"}


def test_exports_of_one_company_built_at_once_all_finish_with_no_tamper_alarm(api, stack, container):
    """Each export ends at a checkpoint of the events chain it signs and has co-signed by the
    witness; built at once they sign sizes out of order. The witness must not take the smaller one,
    arriving last, for a rollback (it did: a false witness_rollback alarm and a failed export)."""
    account = signed_up_account(api, stack)
    admin = api.with_token(account.token)
    tenant = account.tenant_id
    requested = []
    for _ in range(6):
        reply = admin.post(f"/v1/tenants/{tenant}/exports", {"format": "fiscal", "from": TODAY, "to": TODAY})
        assert reply.status == 202, reply
        requested.append(reply.json["job_id"])
    assert [wait_done(admin, tenant, job_id, timeout=60).json["status"] for job_id in requested] == ["done"] * 6
    assert container.tamper_alarms.list(tenant) == []


def accountant_id(client):
    return client.get("/v1/me").json["user_id"]


def test_a_running_job_is_listed_with_its_progress(api, stack):
    account = signed_up_account(api, stack)
    admin = api.with_token(account.token)
    job = admin.post(f"/v1/tenants/{account.tenant_id}/exports", {"format": "fiscal", "from": TODAY, "to": TODAY})
    (listed,) = admin.get(f"/v1/tenants/{account.tenant_id}/exports").json["jobs"]
    assert listed["job_id"] == job.json["job_id"] and listed["status"] in ("queued", "running", "done")
    assert set(listed["progress"]) == {"entries_done", "entries_total", "percent"}
    wait_done(admin, account.tenant_id, job.json["job_id"])


def test_another_tenant_s_user_cannot_list_the_jobs(production, api, stack):
    account, job_id = production
    outsider = api.with_token(signed_up_account(api, stack).token)
    theirs = outsider.get(f"/v1/tenants/{account.tenant_id}/exports")
    assert theirs.status == 404 and theirs.json["detail"] == "tenant not found"
    mine = outsider.get(f"/v1/tenants/{outsider_tenant(outsider)}/exports").json["jobs"]
    assert job_id not in [j["job_id"] for j in mine]


def outsider_tenant(client):
    return client.get("/v1/me").json["memberships"][0]["tenant_id"]


@pytest.mark.parametrize("role", ["seller", "manager"])
def test_a_too_weak_role_cannot_list_the_jobs(production, api, stack, role):
    account, _ = production
    weak = api.with_token(member(api, stack, account.tenant_id, account.token, role).token)
    reply = weak.get(f"/v1/tenants/{account.tenant_id}/exports")
    assert reply.status == 403 and reply.json["permission"] == "export.create" and reply.json["role"] == role


def test_an_auditor_lists_a_production_tenant_s_jobs_but_not_a_test_mode_tenant_s(production, api, stack):
    account, job_id = production
    auditor = api.with_token(member(api, stack, account.tenant_id, account.token, "auditor").token)
    reply = auditor.get(f"/v1/tenants/{account.tenant_id}/exports?limit=100")
    assert reply.status == 200 and job_id in [j["job_id"] for j in reply.json["jobs"]]
    training = signed_up_account(api, stack)
    api.with_token(training.token).post(f"/v1/tenants/{training.tenant_id}/exports",
                                        {"format": "fiscal", "from": TODAY, "to": TODAY})
    their_auditor = api.with_token(member(api, stack, training.tenant_id, training.token, "auditor").token)
    refused = their_auditor.get(f"/v1/tenants/{training.tenant_id}/exports")
    assert refused.status == 403 and refused.json["field"] == "tenant_id" and "training" in refused.json["detail"]


BAD_LIST = [
    ("limit 0", "limit=0", "limit"),
    ("limit 101", "limit=101", "limit"),
    ("limit not a number", "limit=ten", "limit"),
    ("cursor not base64", "cursor=%21%21%21", "cursor"),
    ("cursor not one of ours", "cursor=anVuaw", "cursor"),  # base64 of "junk"
    ("cursor too long", "cursor=" + "A" * 600, "cursor"),
    ("unknown parameter", "status=done", "status"),
]


@pytest.mark.parametrize("why, query, field", BAD_LIST, ids=[b[0] for b in BAD_LIST])
def test_a_bad_list_query_is_a_4xx_problem_naming_the_field(live, why, query, field):
    account, admin = live
    reply = admin.get(f"/v1/tenants/{account.tenant_id}/exports?{query}")
    assert 400 <= reply.status < 500 and reply.json["field"] == field, reply


def _signed_register(api, stack, *, sales: int):
    """A production company whose register holds ``sales`` sales under a checkpoint signed at its
    head: its admin's client, the tenant id, and a tamperer of that register in the journal table."""
    from chalicelib import bootstrap
    from tests.support.tamper import Tamperer

    account = signed_up_account(api, stack)
    admin = api.with_token(account.token)
    tenant = account.tenant_id
    assert admin.post(f"/v1/tenants/{tenant}/go-live", {"confirm": True}).status == 200
    for _ in range(sales):
        assert admin.post(f"/v1/tenants/{tenant}/sales", sale_body()).status == 201
    assert admin.post(f"/v1/tenants/{tenant}/checkpoints", {"chain": "prod.sales.R1"}).json["size"] == sales
    live = bootstrap.container()
    return admin, tenant, Tamperer(live.dynamodb, live.settings.table_name("journal"),
                                   chain_key(tenant, "prod.sales.R1"))


def test_an_export_of_a_chain_missing_signed_entries_fails_saying_why(api, stack):
    """An outside trial deleted the newest entry of a signed chain: the export failed with only "the
    archive could not be built". It says which chain lost which entries, as tamper evidence."""
    admin, tenant, tamper = _signed_register(api, stack, sales=3)
    tamper.delete(3)
    job = admin.post(f"/v1/tenants/{tenant}/exports", {"format": "fiscal", "from": TODAY, "to": TODAY})
    assert job.status == 202, job
    failed = wait_done(admin, tenant, job.json["job_id"]).json
    assert failed["status"] == "failed", failed
    assert failed["error"]["title"] == "A chain no longer holds what its signed checkpoint covers"
    assert "prod.sales.R1: the table holds 2 entries where the signed checkpoint covers 3" in failed["error"]["detail"]
    assert failed["download"] is None


@pytest.mark.parametrize("tampering", ["changed", "changed and rehashed"])
def test_an_export_of_a_changed_chain_is_refused_naming_its_first_bad_entry(api, stack, tampering):
    """A second outside trial: chains changed in the table (an amount; an amount with every later hash
    recomputed, under a signed checkpoint) exported as done, archives that scelle verify then failed.
    Each entry is checked as it is written: the export is refused, naming the first bad entry."""
    admin, tenant, tamper = _signed_register(api, stack, sales=4)
    tamper.modify(2, lambda item: item["data"]["lines"][0].update(unit_price=1))
    if tampering == "changed and rehashed":
        tamper.rehash_from(2)
    job = admin.post(f"/v1/tenants/{tenant}/exports", {"format": "fiscal", "from": TODAY, "to": TODAY})
    assert job.status == 202, job
    failed = wait_done(admin, tenant, job.json["job_id"]).json
    assert failed["status"] == "failed" and failed["download"] is None, failed
    assert failed["error"]["title"] == "A chain does not verify as stored"
    expected = ("prod.sales.R1 seq 2: hash_mismatch" if tampering == "changed"
                else "prod.sales.R1 seq 4: checkpoint_mismatch")
    assert failed["error"]["detail"].startswith(expected), failed["error"]
