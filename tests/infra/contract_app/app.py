"""A stand-in for app.py that registers every handler of the module contract (0000) as a stub.

The infra tests synthesize the stack from it as well as from the real app, so the stream, schedule
and S3 wiring is checked even before every real handler exists. Names, kinds and schedules follow
docs/decisions/0000-contracts-between-modules.md; stream ARNs use the form the local pump reads.
"""

from chalice import AuthResponse, Chalice

app = Chalice(app_name="scelle")


def _stream(table: str) -> str:
    return f"arn:aws:dynamodb:eu-west-1:000000000000:table/scelle-local-{table}/stream/local"


@app.authorizer()
def jwt_authorizer(auth_request):
    return AuthResponse(routes=[], principal_id="anonymous")


@app.route("/health")
def health():
    return {"status": "ok"}


@app.route("/v1/me", authorizer=jwt_authorizer)
def me():
    return {}


@app.on_dynamodb_record(stream_arn=_stream("journal"))
def on_journal_record(event):
    return None


@app.on_dynamodb_record(stream_arn=_stream("events"))
def on_events_record(event):
    return None


@app.on_dynamodb_record(stream_arn=_stream("checkpoints"))
def on_checkpoint_record(event):
    return None


@app.schedule("rate(5 minutes)")
def sign_checkpoints(event):
    return None


@app.schedule("rate(1 hour)")
def close_periods(event):
    return None


@app.schedule("rate(1 hour)")
def verify_chains(event):
    return None


@app.schedule("rate(15 minutes)")
def check_ticket_sla(event):
    return None


@app.lambda_function()
def build_export(event, context):
    return None


@app.lambda_function()
def send_mailing(event, context):
    return None


@app.lambda_function()
def inbound_mail(event, context):
    return None


@app.lambda_function()
def witness_checkpoint(event, context):
    return None


# The workers of scheduled work (decision 0028): plain functions, one SQS event source mapping each,
# wired by the stack from RESOURCES.queues.
@app.lambda_function()
def sign_chain(event, context):
    return None


@app.lambda_function()
def close_chain(event, context):
    return None


@app.lambda_function()
def verify_chain(event, context):
    return None
