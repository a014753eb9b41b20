"""The daily Z report mail: the tenant as a human witness (decision 0024, item 7).

Once a day's closure of a production register is covered by a signed checkpoint, its admins and
accountants receive the day's totals, the perpetual grand total, the closure's number and hash,
and that checkpoint's size and root. What they keep in their mailbox is a copy of the chain's
state that Scellé cannot take back: a later rewrite of the day would contradict it (an export's
``checkpoints.csv`` must show the same root at that size, or one consistent with it).

Run by the checkpoint signer right after it signs, so the report names the checkpoint that was
just made. A cursor per chain in the ops table (the last closure seq reported) makes a run
report each closure once; a crash between the mail and the cursor sends it again, never skips it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from chalicelib.domain.records import SealedRecord, chain_key, parse_timestamp
from chalicelib.observability import logger
from chalicelib.verify_export.format import money  # the CSV views' amounts: 1234,56

CURSOR_SK = "cursor"
# A chain reported for the first time: its closures of the last two days only (not years of mail).
FIRST_REPORT_WINDOW = timedelta(days=2)


def cursor_pk(key: str) -> str:
    return f"ZREPORT#{key}"


def z_report_text(company: str, chain: str, closure: SealedRecord, checkpoint) -> tuple[str, str]:
    """(subject, text) of one day's Z report, French then English (docs/entry-types.md: closure)."""
    data = closure.data
    day = data.get("period", "")
    register = chain.split(".")[-1]
    vat_lines = "\n".join(
        f"  TVA/VAT {Decimal(v['rate']).scaleb(-2).normalize():f} % : HT/excl. {money(v['excl'])} · "
        f"TVA/VAT {money(v['vat'])} · TTC/incl. {money(v['incl'])}"
        for v in data.get("vat_totals", []) if v.get("incl") or v.get("vat")
    ) or "  (aucune vente / no sales)"
    counts = data.get("counts", {})
    total = data.get("period_grand_total", 0)
    subject = f"[Scellé] Z {register} {day} — {money(total)} EUR"
    text = f"""{company} — caisse / register {register} — clôture du jour / day closure {day}

Total du jour TTC / day total incl. VAT : {money(total)} EUR
{vat_lines}
Ventes / sales : {counts.get('sale', 0)} · retours / returns : {counts.get('return', 0)} · \
annulations / reversals : {counts.get('reversal', 0)} (n° {data.get('first_seq')} à / to {data.get('last_seq')})
Grand total perpétuel / perpetual grand total : {money(data.get('perpetual_grand_total', 0))} EUR

Clôture scellée / closure sealed : {chain} n° {closure.seq}, {closure.recorded_at}
Hash : {closure.hash}

Point de contrôle signé / signed checkpoint covering it :
  taille / size : {checkpoint.size}
  racine / root : {checkpoint.root}
  signé le / signed at : {checkpoint.timestamp} (clé / key {checkpoint.key_id})

Gardez ce message. Dans tout export ultérieur de cette caisse, checkpoints.csv doit montrer la
même racine pour la taille {checkpoint.size}, et `scelle verify` le vérifie : si ce n'est pas le cas,
l'historique a été réécrit. / Keep this message. In any later export of this register,
checkpoints.csv must show the same root for size {checkpoint.size}, and `scelle verify` checks it:
if it does not, the history was rewritten.
"""
    return subject, text


class ClosureReporter:
    def __init__(self, *, index, journal_store, checkpoint_store, ops, tenants,
                 recipients: Callable[[str], list[str]], mailer: Callable[[], object],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._index = index
        self._journal = journal_store
        self._checkpoints = checkpoint_store
        self._ops = ops
        self._tenants = tenants
        self._recipients = recipients
        self._mailer = mailer
        self._clock = clock

    def report(self, tenant_id: str, chain: str) -> list[int]:
        """Mail the Z report of every day closure of a production chain that a signed checkpoint
        now covers and that was not reported yet. Returns the closure seqs reported."""
        if not chain.startswith("prod."):
            return []
        key = chain_key(tenant_id, chain)
        newest = self._checkpoints.latest(key)
        if newest is None or newest.checkpoint.size == 0:
            return []
        cursor = self._ops.get(cursor_pk(key), CURSOR_SK)
        reported = int(cursor["seq"]) if cursor is not None else None
        due = [seq for kind, _, seq in self._index.closures(tenant_id, chain, "day")
               if seq <= newest.checkpoint.size and (reported is None or seq > reported)]
        if not due:
            return []
        recipients = self._recipients(tenant_id)
        company = self._company(tenant_id)
        done = []
        for seq in sorted(due):
            closure = self._journal.get(key, seq)
            if closure is None or closure.type != "closure":
                continue
            first_time_and_old = reported is None and (
                self._clock() - parse_timestamp(closure.recorded_at) > FIRST_REPORT_WINDOW)
            if recipients and not first_time_and_old:
                subject, text = z_report_text(company, chain, closure, newest.checkpoint)
                mailer = self._mailer()
                for to in recipients:
                    mailer.send(to, subject, text)
            elif not recipients:
                logger.warning("Z report has nobody to mail (no admin or accountant with an address)",
                               extra={"tenant_id": tenant_id, "chain": chain, "seq": seq})
            if cursor is None:
                self._ops.put_once(cursor_pk(key), CURSOR_SK, {"seq": seq})
                cursor = {"seq": seq}
            else:
                self._ops.set_values(cursor_pk(key), CURSOR_SK, {"seq": seq})
            done.append(seq)
        return done

    def _company(self, tenant_id: str) -> str:
        try:
            return self._tenants.get(tenant_id).company_name
        except Exception:
            return tenant_id
