"""Is the export complete? The chains it carries against the tenant's chain directory, and the
ledger chains against the event journal (docs/decisions/0018-exports-anchored-and-complete.md).

* **The directory.** The signed manifest lists every chain of the tenant's directory when the
  archive was built, each ``included``, ``excluded`` (with its reason: not requested, training
  data...) or ``empty``. A chain listed as included that the archive does not carry, or a chain
  it carries that the listing does not include, is a failure naming the chain.
* **The event journal.** Every sealed ledger entry gets exactly one derived event
  (``sale_recorded``, ``journal_recorded``, ``entry_reversed``, ``period_closed``) whose details
  name its ``chain``, ``seq`` and ``hash``, sealed per chain in seq order. So, for each chain in
  the archive, the events naming it must be seq 1, 2, 3... in order, each with the entry's hash
  and the kind of its type, up to at least the derivation point the manifest states
  (``events_derived_through``). The entries after it had no event yet when the archive was built:
  reported as such, and a failure if sealed more than ``DERIVATION_GRACE_SECONDS`` before it. An
  event naming an entry the archive does not carry, or a chain the manifest does not list, is a
  failure naming it.

Streaming, constant memory: the event journal is read first and, per chain, only the next seq
expected and a running SHA-256 of ``kind:hash`` are kept; the chain's records then give the same
digest up to the last seq the events cover. Only when the two differ are the chain's records and
events read again, side by side, to name the first entry whose event differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scelle_verify import format as fmt

EVENTS_FILE = fmt.records_path(fmt.EVENTS_CHAIN)


@dataclass
class _Chain:
    """What the event journal says about one ledger chain of the archive."""

    last_seq: int
    derived_through: int | None
    next: int = 1  # the next seq an event should name
    failed: bool = False
    events: Any = field(default_factory=hashlib.sha256)
    records: Any = field(default_factory=hashlib.sha256)
    mismatch: bool = False
    without_event: int = 0  # entries after the last event (sealed after the derivation point)
    without_event_in_period: int = 0
    first_without_event: int | None = None
    stale: tuple[int, str] | None = None  # the first entry without event sealed long before the export

    @property
    def covered(self) -> int:
        return self.next - 1


@dataclass
class _Foreign:
    """A chain that events name but the archive does not carry."""

    events: int = 0
    first_event_seq: int = 0
    first_entry_seq: int | None = None
    kind: str = ""


class Completeness:
    """Fed the event journal's records first (``event``), then each ledger chain's (``entry``);
    ``finish`` reports. ``add(file, reason, detail, **where)`` records a failure."""

    def __init__(self, add: Callable[..., None], *, chains: list[dict[str, Any]], directory: Any,
                 scope: Any, generated_at: Any, locate: Callable[[str, int], tuple[int, str] | None]) -> None:
        self._add = add
        self._scope = scope
        self._locate = locate
        self._generated_at = generated_at
        self._stale_before = _minus(generated_at, fmt.DERIVATION_GRACE_SECONDS)
        self.info = {c["chain"]: c for c in chains}
        self.has_events = fmt.EVENTS_CHAIN in self.info
        self.state: dict[str, _Chain] = {
            chain: _Chain(_int(c.get("last_seq")) or 0, _int(c.get("events_derived_through")))
            for chain, c in self.info.items() if chain != fmt.EVENTS_CHAIN
        }
        self.foreign: dict[str, _Foreign] = {}
        self.notes: list[str] = []
        self.listing: dict[str, dict[str, Any]] | None = None
        self._directory = directory

    # -- the directory (the manifest alone) -------------------------------------------------------
    def check_directory(self) -> None:
        directory = self._directory
        if directory is None:
            self.notes.append("the manifest does not list the tenant's chain directory (an archive made before "
                              "Scellé listed it): whether chains were left out is not checked")
            return
        entries = directory.get("chains") if isinstance(directory, dict) else None
        if not isinstance(entries, list):
            self._add(fmt.MANIFEST, "bad_directory", "the manifest's directory has no list of chains")
            self.listing = {}
            return
        listing: dict[str, dict[str, Any]] = {}
        for entry in entries:
            chain = entry.get("chain") if isinstance(entry, dict) else None
            status = entry.get("status") if isinstance(entry, dict) else None
            if not isinstance(chain, str) or status not in fmt.DIRECTORY_STATUSES:
                self._add(fmt.MANIFEST, "bad_directory", f"malformed directory entry {entry!r:.120}")
                continue
            if chain in listing:
                self._add(fmt.MANIFEST, "bad_directory", f"{chain} is listed twice in the directory", chain=chain)
                continue
            if status != fmt.INCLUDED and not (isinstance(entry.get("reason"), str) and entry["reason"].strip()):
                self._add(fmt.MANIFEST, "bad_directory",
                          f"{chain} is listed as {status} without a reason: every chain left out says why",
                          chain=chain)
            listing[chain] = entry
        self.listing = listing
        for chain in self.info:
            entry = listing.get(chain)
            if entry is None or entry["status"] != fmt.INCLUDED:
                said = "does not list it" if entry is None else f"lists it as {entry['status']}"
                self._add(fmt.MANIFEST, "chain_unlisted",
                          f"the archive carries {chain}, but the manifest's directory of the tenant's chains {said}",
                          chain=chain)
        for chain, entry in listing.items():
            if entry["status"] == fmt.INCLUDED and chain not in self.info:
                self._add(fmt.records_path(chain), "chain_missing",
                          f"the tenant's directory listed {chain} as included when the archive was built, but the "
                          "archive does not carry it: a chain was removed", chain=chain)
        if self.has_events is False and fmt.EVENTS_CHAIN in listing:
            entry = listing[fmt.EVENTS_CHAIN]
            if entry["status"] != fmt.INCLUDED:
                self.notes.append(f"the event journal is not in the archive ({entry['status']}: "
                                  f"{entry.get('reason')}): the ledger chains are not cross-checked against it")
        elif not self.has_events:
            self.notes.append("the event journal is not in the archive: the ledger chains are not cross-checked "
                              "against it")

    # -- the event journal ---------------------------------------------------------------------------
    def event(self, record: Any) -> None:
        data = record.data
        kind = data.get("kind")
        if kind not in fmt.DERIVED_EVENTS:
            return
        details = data.get("details")
        chain = details.get("chain") if isinstance(details, dict) else None
        seq = details.get("seq") if isinstance(details, dict) else None
        digest = details.get("hash") if isinstance(details, dict) else None
        if not isinstance(chain, str) or type(seq) is not int or not isinstance(digest, str):
            self._add(EVENTS_FILE, "event_malformed",
                      f"a {kind} event must name its entry's chain, seq and hash in its details", row=record.seq,
                      seq=record.seq, chain=fmt.EVENTS_CHAIN)
            return
        state = self.state.get(chain)
        if state is None:
            foreign = self.foreign.get(chain)
            if foreign is None:
                foreign = self.foreign[chain] = _Foreign(first_event_seq=record.seq, first_entry_seq=seq, kind=kind)
            foreign.events += 1
            return
        if state.failed:
            return
        if seq > state.last_seq:
            self._add(EVENTS_FILE, "event_without_entry",
                      f"event {record.seq} ({kind}) names {chain} seq {seq}, but the archive's records of {chain} end "
                      f"at seq {state.last_seq}: entries were removed", row=record.seq, seq=seq, chain=chain)
            state.failed = True
        elif seq != state.next:
            if seq > state.next:
                self._add(EVENTS_FILE, "event_missing",
                          f"the event journal has no event for {chain} seq {state.next}: the next event naming "
                          f"{chain} (event {record.seq}, {kind}) names seq {seq}; every sealed entry has one, in order",
                          row=record.seq, seq=state.next, chain=chain)
            else:
                self._add(EVENTS_FILE, "event_duplicate",
                          f"event {record.seq} ({kind}) names {chain} seq {seq} again or out of order (seq "
                          f"{state.next} was expected): every sealed entry has exactly one event, in order",
                          row=record.seq, seq=seq, chain=chain)
            state.failed = True
        else:
            state.events.update(f"{kind}:{digest}\n".encode())
            state.next += 1

    def entry(self, chain: str, record: Any) -> None:
        """Each record of a ledger chain, in seq order (after the whole event journal)."""
        state = self.state.get(chain)
        if state is None or not self.has_events or state.failed:
            return
        seq = record.seq
        if seq <= state.covered:
            state.records.update(f"{fmt.derived_event_kind(record.type)}:{record.hash}\n".encode())
            if seq == state.covered and state.records.digest() != state.events.digest():
                state.mismatch = True
        else:
            state.without_event += 1
            if state.first_without_event is None:
                state.first_without_event = seq
            if self._scope.covers(record):
                state.without_event_in_period += 1
            if (state.stale is None and state.derived_through is not None and self._stale_before is not None
                    and record.recorded_at < self._stale_before):
                state.stale = (seq, record.recorded_at)

    # -- the verdict ---------------------------------------------------------------------------------
    def finish(self) -> None:
        if not self.has_events:
            return
        for chain, state in self.state.items():
            if state.failed:
                continue
            if state.mismatch:
                found = self._locate(chain, state.covered)
                seq, detail = found if found else (None, "the events' hashes differ from the records'")
                self._add(EVENTS_FILE, "event_mismatch", detail, seq=seq, chain=chain)
                continue
            through = state.derived_through
            if through is not None and state.covered < through:
                self._add(EVENTS_FILE, "event_missing",
                          f"the event journal holds events for {chain} seq 1..{state.covered} only, but the signed "
                          f"manifest states that every entry through seq {through} had its event when the archive was "
                          "built: events were removed", seq=state.covered + 1, chain=chain)
                continue
            if state.stale is not None:
                seq, sealed = state.stale
                self._add(EVENTS_FILE, "event_missing",
                          f"{chain} seq {seq}, sealed at {sealed}, has no event in the event journal although the "
                          f"archive was built at {self._generated_at}, more than {fmt.DERIVATION_GRACE_SECONDS // 60} "
                          "minutes later: every sealed entry has its event", seq=seq, chain=chain)
                continue
            if state.without_event:
                first = state.first_without_event
                what = (f"{chain}: {state.without_event} entr{'y' if state.without_event == 1 else 'ies'} from seq "
                        f"{first} ({state.without_event_in_period} in the period) had no event yet when the archive "
                        "was built (sealed after the event journal's derivation point")
                self.notes.append(what + (f", seq {through})" if through is not None else
                                          "; this older manifest does not state that point)"))
        for chain, foreign in sorted(self.foreign.items()):
            listed = None if self.listing is None else self.listing.get(chain)
            named = (f"{foreign.events} event(s) of the event journal (the first: event {foreign.first_event_seq}, "
                     f"{foreign.kind}, {chain} seq {foreign.first_entry_seq}) name entries of {chain}")
            if self.listing is None:
                self.notes.append(f"{named}, which the archive does not carry; this older manifest does not say "
                                  "whether it was left out on purpose")
            elif listed is None:
                self._add(fmt.MANIFEST, "chain_unlisted",
                          f"{named}, a chain the manifest's directory of the tenant's chains does not list: a chain "
                          "was removed from the export", seq=foreign.first_entry_seq, chain=chain)
            elif listed["status"] == fmt.EMPTY:
                self._add(fmt.MANIFEST, "chain_unlisted",
                          f"{named}, but the manifest lists {chain} as empty: its entries were removed",
                          seq=foreign.first_entry_seq, chain=chain)
            # included but absent: chain_missing already; excluded: out of this export, by its stated reason

    def summary(self) -> dict[str, Any]:
        chains = {}
        for chain, state in self.state.items():
            chains[chain] = {"events_through": state.covered, "last_seq": state.last_seq,
                             "events_derived_through": state.derived_through,
                             "without_event": state.without_event}
        excluded = {}
        for chain, entry in (self.listing or {}).items():
            if entry["status"] != fmt.INCLUDED:
                excluded[chain] = {"status": entry["status"], "reason": entry.get("reason")}
        return {"directory_listed": self.listing is not None, "event_journal": self.has_events,
                "chains": chains, "excluded": excluded,
                "named_by_events_only": {c: f.events for c, f in sorted(self.foreign.items())},
                "notes": list(self.notes)}


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"  # domain.records.utc_timestamp: every recorded_at has this form


def _minus(instant: Any, seconds: int) -> str | None:
    """``instant`` - ``seconds``, in the records' timestamp form (compared as strings)."""
    if not isinstance(instant, str):
        return None
    try:
        moment = datetime.strptime(instant, _STAMP)
    except ValueError:
        return None
    return (moment - timedelta(seconds=seconds)).strftime(_STAMP)
